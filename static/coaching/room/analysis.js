// The Analysis panel: the swing's progress bar and the feedback cards, newest first.
import { formatPercent, swingName, tf } from "../i18n.js";
import { feedbackCard } from "./feedback-card.js";

const STEPS = () => ({
  queued: gettext("queued"), upload: gettext("uploading"), uploaded: gettext("uploaded"), pose: gettext("finding the pose"),
  analysis: gettext("analysing"), metrics: gettext("measuring"), feedback: gettext("writing feedback"), done: gettext("done"),
});
export const analysisStep = (step) => STEPS()[step] || step || gettext("analysing");

export class AnalysisPanel {
  // `room`: the room's state (room-state.js); `options`: {isCoach, api} for the cards.
  constructor({ card, bar, fill, label, list, empty, room, options }) {
    Object.assign(this, { card, bar, fill, label, list, empty, room, options });
    this.cards = new Map();
    this.pendingCheckpoints = [];
    this.progressSwing = null;
    this.progressAt = null;
  }

  reset() {
    this.cards.clear();
    this.list.replaceChildren();
    this.empty.hidden = false;
  }

  progress({ swing_id: swingId, percent, step }, atMs) {
    const value = Math.max(0, Math.min(100, Math.round(Number(percent) || 0)));
    this.progressSwing = swingId;
    this.progressAt = atMs || this.progressAt;
    this.card.hidden = false;
    this.fill.style.width = `${value}%`;
    this.bar.setAttribute("aria-valuenow", String(value));
    const name = swingName(this.room.swing(swingId), this.progressAt);
    const pct = formatPercent(value);
    this.bar.setAttribute("aria-valuetext", tf(gettext("%(percent)s — %(step)s"), { percent: pct, step: analysisStep(step) }));
    this.label.textContent = tf(gettext("%(swing)s · %(step)s · %(percent)s"), { swing: name, step: analysisStep(step), percent: pct });
  }

  // Returns the card element, new or replaced.
  feedback(payload) {
    const key = String(payload.id);
    const built = feedbackCard(payload, { ...this.options, room: this.room, onCheckpoint: (c) => this.checkpoint(c) });
    const old = this.cards.get(key);
    if (old) old.card.replaceWith(built.card);
    else this.list.prepend(built.card);
    this.cards.set(key, built);
    this.empty.hidden = true;
    if (this.progressSwing === payload.swing_id) this.progress({ swing_id: payload.swing_id, percent: 100, step: "done" });
    const waiting = this.pendingCheckpoints;
    this.pendingCheckpoints = [];
    for (const c of waiting) this.checkpoint(c);
    return built.card;
  }

  checkpoint(checkpoint) {
    const entry = this.cards.get(String(checkpoint.feedback_id));
    if (entry) entry.addCheckpoint(checkpoint);
    else this.pendingCheckpoints.push(checkpoint);
  }

  cardElement(feedbackId) {
    const entry = this.cards.get(String(feedbackId));
    return entry ? entry.card : null;
  }
}
