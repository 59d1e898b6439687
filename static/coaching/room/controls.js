// The coach's lesson controls (pause, resume, end, step) and the preview's Claim button.
// Keyboard focus stays on the controls: while a change is on its way they are only
// aria-disabled (a disabled button would drop focus to <body>), and when the button that
// had focus goes (Pause becomes Resume) its successor takes it; `fallback` when none is left.
import { apiFetch } from "../realtime.js";


export class Controls {
  constructor({ root, pause, resume, end, step, error, claim, claimError, api, fallback }) {
    Object.assign(this, { root, pause, resume, end, step, error, claim, claimError, api, fallback });
    this.busy = false;
    this.channel = null;
    pause.addEventListener("click", () => this.send({ status: "paused" }));
    resume.addEventListener("click", () => this.send({ status: "active" }));
    end.addEventListener("click", () => {
      if (window.confirm(gettext("End this lesson for everyone? This cannot be undone."))) this.send({ status: "ended" });
    });
    step.addEventListener("change", () => this.send({ current_step: step.value }));
    if (claim) claim.addEventListener("click", () => this.claimSession());
  }

  show(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  update(state, role, joined) {
    const focused = document.activeElement;
    const status = state ? state.status : null;
    const ended = status === "ended";
    this.root.hidden = !(role === "coach" || role === "observer") || ended || !state;
    this.pause.hidden = role !== "coach" || status !== "active";
    this.resume.hidden = role !== "coach" || status !== "paused";
    this.step.parentElement.hidden = role !== "coach";
    if (state) this.step.value = state.current_step;
    for (const node of [this.pause, this.resume, this.end, this.step]) {
      node.disabled = !joined;
      node.setAttribute("aria-disabled", String(this.busy));
    }
    if (focused && this.root.contains(focused) && !this.usable(focused)) this.refocus(focused);
  }

  usable(node) {
    return !this.root.hidden && !node.disabled && !node.closest("[hidden]");
  }

  // Pause ↔ Resume, else the first control left, else the fallback (the lesson ended).
  refocus(gone) {
    const successor = { [this.pause.id]: this.resume, [this.resume.id]: this.pause }[gone.id];
    const next = [successor, this.pause, this.resume, this.end].find((node) => node && this.usable(node));
    const target = next || this.fallback;
    if (target) target.focus({ preventScroll: true });
  }

  send(payload) {
    if (!this.channel || this.busy) return;
    this.show("");
    this.busy = true;
    this.onBusy();
    const done = () => { this.busy = false; this.onBusy(); };
    this.channel.push("session:control", payload)
      .receive("ok", done)
      .receive("error", (reply) => { this.show((reply && reply.message) || gettext("The change was refused.")); done(); })
      .receive("timeout", () => { this.show(gettext("No answer from the server. Check the connection and try again.")); done(); });
  }

  onBusy() {}

  async claimSession() {
    this.claim.disabled = true;
    this.claimError.hidden = true;
    try {
      await apiFetch("POST", `${this.api}/claim/`);
      location.reload();
    } catch (err) {
      this.claimError.textContent = err.status === 409 ? gettext("Another coach has claimed this lesson.") : err.message;
      this.claimError.hidden = false;
      this.claim.disabled = false;
    }
  }
}
