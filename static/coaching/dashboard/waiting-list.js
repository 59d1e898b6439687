// The lobby's waiting students: who, what about, how long (live), the latest swing's
// summary once analysed, a read-only preview and Claim.
import { apiFetch, el, sessionUrl } from "../realtime.js";
import { tf, waitingFor } from "../i18n.js";
import { levelInfo } from "../room/feedback-card.js";

export class WaitingList {
  constructor({ list, empty, count, error, serverNow }) {
    Object.assign(this, { list, empty, count, error, serverNow });
    this.entries = new Map(); // session_id -> lobby entry, oldest first
    this.onCount = () => {};
    setInterval(() => this.tick(), 1000);
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  replaceAll(entries) {
    this.entries.clear();
    for (const entry of entries) this.entries.set(entry.session_id, entry);
    this.render();
  }

  // true when the session is new to the list
  put(entry) {
    const fresh = !this.entries.has(entry.session_id);
    this.entries.set(entry.session_id, entry);
    this.render();
    return fresh;
  }

  remove(sessionId) {
    if (this.entries.delete(sessionId)) this.render();
  }

  async claim(entry, button) {
    this.showError("");
    button.disabled = true;
    try {
      await apiFetch("POST", `/api/sessions/${encodeURIComponent(entry.session_id)}/claim/`);
      location.assign(sessionUrl(entry.session_id));
    } catch (err) {
      this.showError(err.message);
      button.disabled = false;
      if (err.status === 409 || err.status === 404) this.remove(entry.session_id);
    }
  }

  item(entry) {
    const name = entry.student ? entry.student.name : gettext("Student");
    const claim = el("button", {
      className: "btn btn-primary btn-small", type: "button", text: gettext("Claim"),
      attrs: { "aria-label": tf(gettext("Claim the lesson of %(name)s"), { name }) },
    });
    claim.addEventListener("click", () => this.claim(entry, claim));
    const summary = entry.swing_summary;
    return el("li", { className: "session-item", dataset: { sessionId: entry.session_id } },
      el("div", { className: "session-main" },
        el("span", { className: "session-title", text: name }),
        el("span", { className: "session-topic", text: entry.title || gettext("No topic given") }),
        el("span", { className: "waiting-since", dataset: { since: entry.created_at } }),
        summary ? el("span", { className: "swing-summary" },
          summary.level ? el("span", { className: "badge level", text: levelInfo(summary.level).name }) : null,
          ` ${summary.summary || ""}`) : null,
      ),
      el("div", { className: "session-actions" },
        el("a", {
          className: "btn btn-small", href: sessionUrl(entry.session_id), text: gettext("Preview"),
          attrs: { "aria-label": tf(gettext("Preview the lesson of %(name)s"), { name }) },
        }),
        claim),
    );
  }

  render() {
    this.list.replaceChildren(...[...this.entries.values()].map((e) => this.item(e)));
    this.count.textContent = String(this.entries.size);
    this.empty.hidden = this.entries.size > 0;
    this.onCount(this.entries.size);
    this.tick();
  }

  tick() {
    const now = this.serverNow();
    for (const node of this.list.querySelectorAll(".waiting-since")) {
      const since = Number(node.dataset.since);
      const text = since ? waitingFor(since, now) : "";
      if (node.textContent !== text) node.textContent = text;
    }
  }
}
