// The library's list of past lessons (GET /api/lessons/, newest first, a page at a time),
// each opening its recap (the lesson's page, which leads with it once ended); the
// lesson's student and coach may share its recap (shares.js). Replays come later.
import { apiFetch, el, listResults } from "../realtime.js";
import * as i18n from "../i18n.js";
import { SharePanel } from "./shares.js";

const PAGE_SIZE = 20;

export class LessonList {
  constructor({ list, status, error, count, more, role }) {
    Object.assign(this, { list, status, error, count, more, role });
    this.next = null;
    this.generation = 0;
    more.addEventListener("click", () => this.loadMore());
  }

  // A club in the reader's words (i18n's `clubName` where the page has it).
  clubName(club) {
    return typeof i18n.clubName === "function" ? i18n.clubName(club) : club;
  }

  async filters() {
    try {
      return await apiFetch("GET", "/api/lessons/filters/");
    } catch (err) {
      this.showError(err);
      return { coaches: [], students: [], clubs: [] };
    }
  }

  showError(err) {
    this.error.textContent = err ? i18n.tf(gettext("The lessons could not be loaded: %(error)s"), { error: err.message }) : "";
    this.error.hidden = !err;
  }

  async load(params) {
    const generation = ++this.generation;
    params.set("page_size", String(PAGE_SIZE));
    this.list.setAttribute("aria-busy", "true");
    this.status.textContent = gettext("Loading…");
    this.status.hidden = false;
    await this.fetchPage(`/api/lessons/?${params}`, generation, true);
  }

  async loadMore() {
    if (this.next) await this.fetchPage(this.next, this.generation, false);
  }

  async fetchPage(url, generation, fresh) {
    this.more.disabled = true;
    try {
      const page = await apiFetch("GET", url);
      if (generation !== this.generation) return; // filters changed meanwhile
      this.showError(null);
      const items = listResults(page).map((lesson) => this.item(lesson));
      if (fresh) this.list.replaceChildren(...items);
      else this.list.append(...items);
      this.next = page.next;
      this.count.textContent = String(page.count);
      this.status.textContent = page.count ? "" : gettext("No past lessons match these filters.");
      this.status.hidden = page.count > 0;
      this.more.hidden = !page.next;
    } catch (err) {
      if (generation === this.generation) this.showError(err);
    } finally {
      this.more.disabled = false;
      this.list.removeAttribute("aria-busy");
    }
  }

  item(lesson) {
    const title = lesson.title || gettext("Live lesson");
    const titleId = `lesson-${lesson.session_id}`;
    const other = this.role === "coach"
      ? i18n.tf(gettext("Student %(name)s"), { name: lesson.student.name })
      : (lesson.coach ? i18n.tf(gettext("Coach %(name)s"), { name: lesson.coach.name }) : gettext("No coach"));
    const people = this.role === "admin" && lesson.coach
      ? `${i18n.tf(gettext("Student %(name)s"), { name: lesson.student.name })} · ${other}`
      : other;
    const when = [
      i18n.formatDateTime(lesson.started_at || lesson.created_at),
      lesson.duration_ms !== null ? i18n.formatDuration(lesson.duration_ms) : null,
    ].filter(Boolean).join(" · ");
    const counts = i18n.tf(
      ngettext("%(count)s swing", "%(count)s swings", lesson.swing_count), { count: lesson.swing_count },
    );
    const clubs = lesson.clubs.map((club) => el("span", { className: "chip", text: this.clubName(club) }));
    const share = ["student", "coach"].includes(this.role) ? new SharePanel(lesson, titleId) : null;
    return el("li", { className: "session-item lesson-item", dataset: { sessionId: lesson.session_id } },
      el("div", { className: "session-main" },
        el("a", { className: "session-title", id: titleId, href: lesson.recap_url, text: title }),
        el("span", { className: "lesson-people", text: people }),
        el("span", { className: "muted lesson-when", text: when }),
        el("span", { className: "lesson-clubs" }, el("span", { className: "muted", text: counts }), ...clubs),
        lesson.swing_summary ? el("span", { className: "lesson-summary", text: lesson.swing_summary.summary }) : null,
        share ? share.panel : null),
      el("div", { className: "lesson-actions" },
        el("a", {
          className: "btn btn-small btn-primary", href: lesson.recap_url, text: gettext("Recap"),
          attrs: { "aria-describedby": titleId },
        }),
        lesson.replay_url ? el("a", {
          className: "btn btn-small", href: lesson.replay_url, text: gettext("Watch the replay"),
          attrs: { "aria-describedby": titleId },
        }) : null,
        share ? share.toggle : null));
  }
}
