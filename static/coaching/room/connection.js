// The connection's honest state, from the Phoenix socket's own events:
//   connecting → online → reconnecting (next attempt in N s) | offline (the browser has
//   no network) → online.
// A heartbeat every HEARTBEAT_MS: phoenix.js closes a link whose heartbeat is not answered
// before the next one, so a dead link shows within 2 × HEARTBEAT_MS (8 s).
// Shown as a pill (data-state) and, when not online, a banner with words.
import { formatDuration, tf } from "../i18n.js";

export const HEARTBEAT_MS = 4000;
const RETRY_MS = [500, 1000, 2000, 3000, 5000];
const REJOIN_MS = [500, 1000, 2000, 5000];

// A delay between half and one and a half times `ms`: when a process drains (or
// restarts) its clients come back spread over time, not all in one instant.
export const withJitter = (ms) => Math.round(ms * (0.5 + Math.random()));

export class ConnectionStatus {
  constructor({ pill, banner }) {
    this.pill = pill;
    this.banner = banner;
    this.state = "connecting";
    this.nextAttemptAt = null;
    this.ticker = null;
    this.listeners = [];
    this.socket = null;
    window.addEventListener("offline", () => this.set("offline"));
    window.addEventListener("online", () => {
      if (this.state !== "offline") return;
      this.set(this.socket && this.socket.isConnected() ? "online" : "reconnecting");
    });
    this.render();
  }

  // Options for `new Phoenix.Socket`: heartbeat, and retry delays we can announce.
  // Declared to the server, which shows this connection as lost to the others after two
  // intervals without a frame (coaching/realtime/liveness.py).
  socketParams() {
    return { heartbeat_ms: HEARTBEAT_MS };
  }

  socketOptions() {
    return {
      heartbeatIntervalMs: HEARTBEAT_MS,
      reconnectAfterMs: (tries) => {
        const delay = withJitter(RETRY_MS[tries - 1] ?? RETRY_MS[RETRY_MS.length - 1]);
        this.retryIn(delay);
        return delay;
      },
      rejoinAfterMs: (tries) => REJOIN_MS[tries - 1] ?? REJOIN_MS[REJOIN_MS.length - 1],
    };
  }

  bind(socket) {
    this.socket = socket;
    socket.onOpen(() => { this.nextAttemptAt = null; this.set("online"); });
    socket.onError(() => this.lost());
    socket.onClose(() => this.lost());
  }

  // A channel or the socket reported trouble (e.g. a heartbeat went unanswered).
  lost() {
    if (this.state === "online" || this.state === "connecting") this.set(this.offlineOr("reconnecting"));
  }

  retryIn(ms) {
    this.nextAttemptAt = Date.now() + ms;
    this.set(this.offlineOr("reconnecting"));
  }

  offlineOr(state) {
    return navigator.onLine === false ? "offline" : state;
  }

  onChange(fn) {
    this.listeners.push(fn);
  }

  set(state) {
    const changed = state !== this.state;
    this.state = state;
    this.render();
    if (changed) for (const fn of this.listeners) fn(state);
  }

  text() {
    if (this.state === "online") return gettext("Online");
    if (this.state === "connecting") return gettext("Connecting…");
    if (this.state === "offline") return gettext("Offline");
    return gettext("Reconnecting…");
  }

  // The banner's message (announced once per state) and its countdown (not announced).
  bannerText() {
    if (this.state === "offline") {
      return gettext("You are offline. What you write is kept and sent when the connection is back.");
    }
    if (this.state === "reconnecting") {
      return gettext("Connection lost. Reconnecting… Your messages wait and are sent then.");
    }
    return "";
  }

  countdownText() {
    const wait = this.nextAttemptAt ? this.nextAttemptAt - Date.now() : 0;
    if (wait > 900) return tf(gettext("Next attempt in %(time)s"), { time: formatDuration(wait + 999) });
    return this.nextAttemptAt ? gettext("Trying now…") : "";
  }

  render() {
    if (this.pill) {
      this.pill.dataset.state = this.state;
      this.pill.textContent = this.text();
    }
    if (this.banner) {
      const text = this.bannerText();
      const message = this.banner.querySelector(".banner-message");
      const countdown = this.banner.querySelector(".banner-countdown");
      if (message.textContent !== text) message.textContent = text;
      countdown.textContent = text ? this.countdownText() : "";
      this.banner.dataset.state = this.state;
      this.banner.classList.toggle("is-shown", Boolean(text));
    }
    const ticking = this.state === "reconnecting" || this.state === "offline";
    if (ticking && !this.ticker) this.ticker = setInterval(() => this.render(), 1000);
    if (!ticking && this.ticker) { clearInterval(this.ticker); this.ticker = null; }
  }
}
