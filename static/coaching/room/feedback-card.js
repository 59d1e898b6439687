// The AI feedback card, read at a glance: the verdict (the AI's summary) and what to
// practise first, then the metrics that matter most for this swing (out of range on the
// worse side, furthest first, with the direction in words), every metric behind "All
// metrics" (room/metrics.js); the level explained, the coach's checkpoints, and (for the
// coach) a checkpoint form.
import { apiFetch, el } from "../realtime.js";
import { formatTime, swingName, tf } from "../i18n.js";
import { keyMetricList, metricsTable, orderedKeys } from "./metrics.js";

const LEVELS = () => ({
  beginner: [gettext("Beginner"), gettext("The AI rates this swing as a beginner's: the tips start from the basics.")],
  intermediate: [gettext("Intermediate"), gettext("The AI rates this swing as intermediate: the tips refine a working swing.")],
  advanced: [gettext("Advanced"), gettext("The AI rates this swing as advanced: the tips are fine adjustments.")],
});

export function levelInfo(level) {
  const known = LEVELS()[String(level || "").toLowerCase()];
  if (known) return { name: known[0], help: known[1] };
  return { name: level, help: gettext("The skill level the AI estimated for this swing.") };
}

function checkpointForm(feedback, api, onSaved) {
  const note = el("input", {
    type: "text", maxLength: 2000, placeholder: gettext("Note (optional)"), className: "checkpoint-note",
    attrs: { "aria-label": gettext("Checkpoint note") },
  });
  const button = el("button", { type: "submit", className: "btn btn-small", text: gettext("Save checkpoint") });
  const error = el("p", { className: "form-error", hidden: true, attrs: { role: "alert" } });
  const form = el("form", { className: "checkpoint-form" }, note, button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      const saved = await apiFetch("POST", `${api}/checkpoints/`, { feedback_id: feedback.id, note: note.value.trim() });
      note.value = "";
      if (saved && saved.feedback_id !== undefined) onSaved(saved);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function checkpointLine(checkpoint) {
  const who = checkpoint.coach ? checkpoint.coach.name : gettext("Coach");
  return el("p", { className: "checkpoint-mark", dataset: { checkpointId: checkpoint.id } },
    el("span", { className: "star", text: "★", attrs: { "aria-hidden": "true" } }),
    el("span", {
      text: checkpoint.note
        ? tf(gettext("Checkpoint by %(name)s: %(note)s"), { name: who, note: checkpoint.note })
        : tf(gettext("Checkpoint by %(name)s"), { name: who }),
    }));
}

// The metrics: the few out of range first (or a word that none is), then all of them.
function metricSections(metrics, open) {
  const count = orderedKeys(metrics).length;
  if (!count) return [];
  const key = keyMetricList(metrics);
  return [
    key ? el("h4", { className: "subhead", text: gettext("Out of range") }) : null,
    key || el("p", { className: "key-metrics-none muted", text: gettext("Every metric is within its typical range.") }),
    el("details", { className: "all-metrics", open: Boolean(open) },
      el("summary", { text: tf(gettext("All metrics (%(count)s)"), { count }) }),
      metricsTable(metrics)),
  ];
}

// {card, addCheckpoint(checkpoint)}; `room`: the room's state (room-state.js); `open`:
// show every metric (a card built again keeps what the reader had open).
export function feedbackCard(feedback, { isCoach, api, room, onCheckpoint, open = false }) {
  const swing = room.swing(feedback.swing_id);
  const marks = el("div", { className: "checkpoint-marks" });
  const level = feedback.level ? levelInfo(feedback.level) : null;
  const recommendations = feedback.recommendations || [];
  const headingId = `card-${feedback.id}-title`;
  const card = el("article", {
    className: "feedback-card",
    id: `feedback-${feedback.id}`,
    tabIndex: -1,
    dataset: { feedbackId: feedback.id, swingId: feedback.swing_id, seq: feedback.seq },
    attrs: { "aria-labelledby": headingId },
  },
  el("header", { className: "feedback-head" },
    el("h3", { className: "feedback-swing", id: headingId, text: swingName(swing, feedback.created_at) }),
    level ? el("span", { className: "badge level", text: tf(gettext("Level: %(level)s"), { level: level.name }) }) : null,
    // The name already tells the time unless the swing has its own label.
    swing && swing.label
      ? el("time", { className: "muted", text: formatTime(feedback.created_at) }) : null,
  ),
  el("p", { className: "feedback-summary", text: feedback.summary }),
  recommendations.length ? el("h4", { className: "subhead", text: gettext("What to practise") }) : null,
  recommendations.length
    ? el("ol", { className: "recommendations" }, recommendations.map((line) => el("li", { text: line })))
    : null,
  ...metricSections(feedback.metrics || {}, open),
  level ? el("p", { className: "level-help muted", text: level.help }) : null,
  marks,
  isCoach ? checkpointForm(feedback, api, onCheckpoint) : null,
  );
  const seen = new Set();
  return {
    card,
    addCheckpoint(checkpoint) {
      const id = String(checkpoint.id);
      if (seen.has(id)) return;
      seen.add(id);
      card.classList.add("checkpointed");
      marks.append(checkpointLine(checkpoint));
    },
  };
}
