// The coach's own lessons, beside the waiting list: those in progress (active, paused:
// Resume) and the recently ended ones (their recap). `GET /api/sessions/?mine=true`,
// reloaded when the lobby says one of them changed and when the tab shows again.
import { apiFetch, el, listResults, sessionUrl } from "../realtime.js";
import { formatDateTime, formatDuration, formatTime, statusLabel, tf } from "../i18n.js";

export const RECENT = 10;
const MINE = "/api/sessions/?mine=true";

export class MyLessons {
  constructor({ openList, openEmpty, openCount, recentList, recentEmpty, error }) {
    Object.assign(this, { openList, openEmpty, openCount, recentList, recentEmpty, error });
    this.loading = null;
    this.again = false;
  }

  // One load at a time; a request meanwhile loads once more after it.
  load() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.fetch().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        this.load();
      }
    });
    return this.loading;
  }

  async fetch() {
    try {
      const [active, paused, ended] = await Promise.all([
        apiFetch("GET", `${MINE}&status=active&page_size=100`),
        apiFetch("GET", `${MINE}&status=paused&page_size=100`),
        apiFetch("GET", `${MINE}&status=ended&page_size=${RECENT}`),
      ]);
      const open = [...listResults(active), ...listResults(paused)]
        .sort((a, b) => (b.started_at || b.created_at) - (a.started_at || a.created_at));
      const recent = listResults(ended).sort((a, b) => (b.ended_at || 0) - (a.ended_at || 0));
      this.render(open, recent);
      this.showError("");
    } catch (err) {
      this.showError(tf(gettext("Your lessons could not be loaded: %(error)s"), { error: err.message }));
    }
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  render(open, ended) {
    this.openList.replaceChildren(...open.map((s) => this.item(s)));
    this.openCount.textContent = String(open.length);
    this.openEmpty.hidden = open.length > 0;
    this.recentList.replaceChildren(...ended.map((s) => this.item(s)));
    this.recentEmpty.hidden = ended.length > 0;
  }

  item(session) {
    const name = session.student ? session.student.name : gettext("Student");
    const ended = session.status === "ended";
    let when;
    if (ended) {
      const took = session.started_at && session.ended_at ? session.ended_at - session.started_at : null;
      when = took === null
        ? tf(gettext("Ended %(time)s"), { time: formatDateTime(session.ended_at || session.updated_at) })
        : tf(gettext("Ended %(time)s · %(duration)s"), {
          time: formatDateTime(session.ended_at), duration: formatDuration(took),
        });
    } else {
      when = tf(gettext("Started %(time)s"), { time: formatTime(session.started_at || session.created_at) });
    }
    const action = ended
      ? { text: gettext("Recap"), label: tf(gettext("Open the recap of the lesson of %(name)s"), { name }) }
      : { text: gettext("Resume"), label: tf(gettext("Resume the lesson of %(name)s"), { name }) };
    return el("li", { className: "session-item", dataset: { sessionId: session.session_id } },
      el("div", { className: "session-main" },
        el("span", { className: "session-title", text: name }),
        el("span", { className: "session-topic", text: session.title || gettext("No topic given") }),
        el("span", { className: "muted lesson-when", text: when }),
      ),
      el("div", { className: "session-actions" },
        el("span", { className: `badge status-${session.status}`, text: statusLabel(session.status) }),
        el("a", {
          className: `btn btn-small${ended ? "" : " btn-primary"}`, href: sessionUrl(session.session_id),
          text: action.text, attrs: { "aria-label": action.label },
        }),
      ),
    );
  }
}
