// The lesson's state where nobody can miss it: a banner (and the header badge) for
// waiting, paused and ended, and a short "resumed" note; waiting time updates live.
import { formatDuration, statusLabel, stepLabel, tf, waitingFor } from "../i18n.js";

export class StateBanner {
  constructor({ banner, message, detail, badge, step, stepSource, serverNow }) {
    Object.assign(this, { banner, message, detail, badge, step, stepSource, serverNow });
    this.state = null;
    this.role = null;
    this.resumedUntil = 0;
    setInterval(() => this.renderDetail(), 1000);
  }

  update(state, role, { changedFrom } = {}) {
    if (changedFrom && changedFrom.status === "paused" && state.status === "active") {
      this.resumedUntil = Date.now() + 8000;
      setTimeout(() => this.render(), 8100);
    }
    this.state = state;
    this.role = role;
    this.render();
  }

  text() {
    const s = this.state;
    if (!s) return ["", ""];
    const coach = s.coach ? s.coach.name : "";
    const student = s.student ? s.student.name : "";
    if (s.status === "waiting") {
      if (this.role === "student") return ["waiting", gettext("A coach will join you soon. You can already write what you want to work on.")];
      return ["waiting", tf(gettext("%(name)s is waiting for a coach."), { name: student })];
    }
    if (s.status === "paused") {
      return ["paused", tf(gettext("%(name)s paused the lesson. Chat stays open; the lesson continues when the coach resumes it."), { name: coach || gettext("The coach") })];
    }
    if (s.status === "ended") {
      return ["ended", gettext("This lesson has ended. Its recap stays on this page.")];
    }
    if (s.status === "active" && Date.now() < this.resumedUntil) {
      return ["resumed", gettext("The lesson has resumed.")];
    }
    return ["", ""];
  }

  render() {
    const s = this.state;
    const [kind, text] = this.text();
    this.banner.dataset.kind = kind;
    this.banner.classList.toggle("is-shown", Boolean(text));
    if (this.message.textContent !== text) this.message.textContent = text;
    if (s) {
      this.badge.textContent = statusLabel(s.status);
      this.badge.className = `badge status-${s.status}`;
      this.step.textContent = stepLabel(s.current_step);
      this.stepSource.textContent = s.step_source === "coach" ? gettext("(set by the coach)")
        : (s.step_source === "auto" ? gettext("(follows the analysis)") : "");
    }
    this.renderDetail();
  }

  renderDetail() {
    const s = this.state;
    let text = "";
    if (s && s.status === "waiting" && s.created_at) text = waitingFor(s.created_at, this.serverNow());
    if (s && s.status === "ended" && s.ended_at && (s.started_at || s.created_at)) {
      text = tf(gettext("Lesson time %(time)s"), { time: formatDuration(s.ended_at - (s.started_at || s.created_at)) });
    }
    if (this.detail.textContent !== text) this.detail.textContent = text;
  }
}
