// The Analysis panel: the swing's progress bar and the feedback cards, newest first, with
// the speed unit the reader picked (m/s or mph; the language's by default).
import { el } from "../realtime.js";
import { formatPercent, swingName, tf } from "../i18n.js";
import { feedbackCard } from "./feedback-card.js";
import { setSpeedUnit, speedUnit, speedUnits, stepName } from "./metrics.js";

export class AnalysisPanel {
  // `room`: the room's state (room-state.js); `options`: {isCoach, api} for the cards;
  // `unitPick`: the speed unit's <select> (its label hidden until there is a card).
  constructor({ card, bar, fill, label, list, empty, unitPick, room, options }) {
    Object.assign(this, { card, bar, fill, label, list, empty, unitPick, room, options });
    this.cards = new Map(); // id -> {card, addCheckpoint, payload, checkpoints}
    this.pendingCheckpoints = [];
    this.progressSwing = null;
    this.progressAt = null;
    if (unitPick) {
      unitPick.replaceChildren(...speedUnits.map((unit) => el("option", { value: unit, text: unit })));
      unitPick.value = speedUnit();
      unitPick.addEventListener("change", () => {
        setSpeedUnit(unitPick.value);
        this.rebuild();
      });
    }
  }

  reset() {
    this.cards.clear();
    this.list.replaceChildren();
    this.empty.hidden = false;
    this.showUnitPick();
  }

  showUnitPick() {
    if (this.unitPick) this.unitPick.closest("label").hidden = this.cards.size === 0;
  }

  // Every card again (the speed unit changed), as the reader had it: details open, checkpoints.
  rebuild() {
    for (const entry of [...this.cards.values()]) this.feedback(entry.payload);
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
    this.bar.setAttribute("aria-valuetext", tf(gettext("%(percent)s — %(step)s"), { percent: pct, step: stepName(step) }));
    this.label.textContent = tf(gettext("%(swing)s · %(step)s · %(percent)s"), { swing: name, step: stepName(step), percent: pct });
  }

  // Returns the card element, new or replaced.
  feedback(payload) {
    const key = String(payload.id);
    const old = this.cards.get(key);
    const details = old && old.card.querySelector("details.all-metrics");
    const built = feedbackCard(payload, {
      ...this.options, room: this.room, open: Boolean(details && details.open), onCheckpoint: (c) => this.checkpoint(c),
    });
    const entry = { ...built, payload, checkpoints: old ? old.checkpoints : [] };
    for (const c of entry.checkpoints) built.addCheckpoint(c);
    if (old) old.card.replaceWith(built.card);
    else this.list.prepend(built.card);
    this.cards.set(key, entry);
    this.empty.hidden = true;
    this.showUnitPick();
    if (this.progressSwing === payload.swing_id) this.progress({ swing_id: payload.swing_id, percent: 100, step: "done" });
    const waiting = this.pendingCheckpoints;
    this.pendingCheckpoints = [];
    for (const c of waiting) this.checkpoint(c);
    return built.card;
  }

  checkpoint(checkpoint) {
    const entry = this.cards.get(String(checkpoint.feedback_id));
    if (!entry) {
      this.pendingCheckpoints.push(checkpoint);
      return;
    }
    if (!entry.checkpoints.some((c) => String(c.id) === String(checkpoint.id))) entry.checkpoints.push(checkpoint);
    entry.addCheckpoint(checkpoint);
  }

  // Whether the swing's analysis has its card (its progress is over).
  hasCard(swingId) {
    return [...this.cards.values()].some((entry) => entry.payload.swing_id === swingId);
  }

  cardElement(feedbackId) {
    const entry = this.cards.get(String(feedbackId));
    return entry ? entry.card : null;
  }
}
