// The saved drawings of the lesson, newest last; choosing one shows its frame and shapes.
import { el } from "../realtime.js";
import { formatSeconds, swingName, tf } from "../i18n.js";
import { annotationThumbnail } from "./thumbnail.js";

export class AnnotationList {
  // `onSelect(annotation)` shows it on the player.
  constructor({ ui, player, onSelect }) {
    this.ui = ui;
    this.player = player;
    this.onSelect = onSelect;
    this.items = new Map(); // id -> annotation
  }

  reset(annotations) {
    this.items.clear();
    this.ui.annotations.replaceChildren();
    for (const annotation of annotations) this.add(annotation);
    this.renderEmpty();
  }

  add(annotation) {
    const id = String(annotation.id);
    if (this.items.has(id)) return;
    this.items.set(id, annotation);
    const swing = this.player.swings.get(annotation.swing_id) || null;
    const count = (annotation.shapes || []).length;
    const who = annotation.coach ? annotation.coach.name : gettext("Coach");
    const button = el("button", {
      type: "button", className: "annotation-item",
      on: { click: () => this.select(id) },
    },
    annotationThumbnail(annotation, swing),
    el("span", { className: "annotation-text" },
      el("strong", { className: "annotation-time", text: formatSeconds(annotation.time_ms) }),
      swing && this.player.swings.size > 1
        ? el("span", { className: "muted", text: ` · ${swingName(swing)}` }) : null,
      annotation.note ? el("span", { className: "annotation-note", text: annotation.note }) : null,
      el("span", {
        className: "muted annotation-meta",
        text: tf(ngettext("%(count)s shape · %(who)s", "%(count)s shapes · %(who)s", count), { count, who }),
      }),
    ));
    const item = el("li", { dataset: { annotationId: id, seq: String(annotation.seq ?? "") } }, button);
    // In seq order, whatever order they arrive in.
    const after = [...this.ui.annotations.children].find((node) => Number(node.dataset.seq) > Number(annotation.seq));
    this.ui.annotations.insertBefore(item, after || null);
    this.renderEmpty();
  }

  select(id) {
    const annotation = this.items.get(id);
    if (!annotation) return;
    for (const node of this.ui.annotations.querySelectorAll("[aria-current]")) node.removeAttribute("aria-current");
    const item = this.ui.annotations.querySelector(`li[data-annotation-id="${CSS.escape(id)}"] button`);
    if (item) item.setAttribute("aria-current", "true");
    this.onSelect(annotation);
  }

  renderEmpty() {
    this.ui.annotationsEmpty.hidden = this.items.size > 0;
  }
}
