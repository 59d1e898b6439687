// How each logged event reads in the timeline. Returns {node, announce} or null.
import { el, safeClass } from "../realtime.js";
import { formatPercent, stepLabel, swingName, tf } from "../i18n.js";
import { annotationThumbnail } from "../review/thumbnail.js";
import { reviewLine } from "../review/log.js";
import { messageNode } from "./chat.js";
import { stepName } from "./metrics.js";

// A swing's analysis is one line in the timeline, updated in place (room/timeline.js groups).
export const analysisGroup = (swingId) => `analysis:${swingId}`;

export function noticeText(notice) {
  const p = notice.params || {};
  if (notice.code === "participant_joined") {
    return p.role === "coach" ? tf(gettext("Coach %(name)s joined the lesson."), p) : tf(gettext("%(name)s joined the lesson."), p);
  }
  if (notice.code === "participant_left") {
    return p.role === "coach" ? tf(gettext("Coach %(name)s left the lesson."), p) : tf(gettext("%(name)s left the lesson."), p);
  }
  return notice.text || "";
}

export function stateChangeText(state, prev) {
  const coach = state.coach ? state.coach.name : gettext("The coach");
  if (!prev || prev.status !== state.status) {
    if (state.status === "active" && prev && prev.status === "paused") return gettext("The lesson resumed.");
    if (state.status === "active") return tf(gettext("Coach %(name)s started the lesson."), { name: coach });
    if (state.status === "paused") return tf(gettext("%(name)s paused the lesson."), { name: coach });
    if (state.status === "ended") return gettext("The lesson ended.");
    if (state.status === "waiting") return gettext("Waiting for a coach.");
  }
  if (!prev || prev.current_step !== state.current_step) {
    return tf(gettext("Step: %(step)s"), { step: stepLabel(state.current_step) });
  }
  return null;
}

// How a card, a checkpoint, a new swing and a saved drawing are named: their timeline
// lines, and the replay's moments. `swingOf(id)`: the swing.
export function cardText(p, swingOf) {
  return tf(gettext("AI feedback on %(swing)s"), { swing: swingName(swingOf(p.swing_id), p.created_at) });
}

export function checkpointText(p) {
  const who = p.coach ? p.coach.name : gettext("Coach");
  return p.note
    ? tf(gettext("%(name)s saved a checkpoint: %(note)s"), { name: who, note: p.note })
    : tf(gettext("%(name)s saved a checkpoint."), { name: who });
}

export function swingText(p) {
  return tf(gettext("New swing: %(swing)s"), { swing: swingName(p.swing || {}) });
}

export function annotationText(p, swingOf) {
  const who = p.coach ? p.coach.name : gettext("Coach");
  return tf(gettext("%(name)s drew on %(swing)s"), { name: who, swing: swingName(swingOf(p.swing_id)) });
}

function line(kind, seq, text, ...extra) {
  return el("li", { className: `tl-entry tl-${kind}` },
    el("span", { className: "tl-text", text }), ...extra);
}

// ctx: {room (room-state.js), openCard(feedbackId), openRecap(), hasCard(swingId)}
export function entryRenderer(ctx) {
  const swingOf = (swingId) => ctx.room.swing(swingId);
  return (event, p, timeline) => {
    const me = ctx.room.me;
    switch (event) {
      case "chat:added": {
        const mine = Boolean(me && p.sender && String(p.sender.id) === String(me.id));
        const node = messageNode(p, { mine });
        return { node, announce: `${p.sender ? p.sender.name : ""}: ${p.message}` };
      }
      case "system:notice": {
        const text = noticeText(p);
        return { node: line(`notice level-${safeClass(p.level)}`, p.seq, text), announce: text };
      }
      case "session:state": {
        const text = stateChangeText(p, timeline.before(p.seq, "session:state"));
        if (!text) return null;
        const extra = p.status === "ended" && ctx.openRecap
          ? el("button", { type: "button", className: "btn btn-small", text: gettext("See the recap"), on: { click: ctx.openRecap } })
          : null;
        return { node: line(`state status-${safeClass(p.status)}`, p.seq, text, extra), announce: text };
      }
      case "analysis:milestone": {
        // The swing's latest step, until the analysis is over (100 %, or its card is here).
        const swing = swingName(swingOf(p.swing_id));
        const percent = Math.round(Number(p.percent) || 0);
        const done = percent >= 100 || p.step === "done" || Boolean(ctx.hasCard && ctx.hasCard(p.swing_id));
        const text = done
          ? tf(gettext("Analysis of %(swing)s complete"), { swing })
          : tf(gettext("Analysis of %(swing)s: %(step)s (%(percent)s)"), {
            swing, step: stepName(p.step), percent: formatPercent(percent),
          });
        const node = line(`milestone${done ? " is-done" : ""}`, p.seq, text);
        node.dataset.swingId = p.swing_id;
        return { node, announce: text, group: analysisGroup(p.swing_id), final: done };
      }
      case "ai:feedback": {
        const text = cardText(p, swingOf);
        const node = el("li", { className: "tl-entry tl-card" },
          el("span", { className: "tl-text", text }),
          el("p", { className: "tl-summary", text: p.summary }),
          el("button", { type: "button", className: "btn btn-small btn-primary", text: gettext("Open the card"), on: { click: () => ctx.openCard(p.id) } }));
        return { node, announce: `${text}: ${p.summary}` };
      }
      case "checkpoint:added": {
        const text = checkpointText(p);
        return { node: line("checkpoint", p.seq, `★ ${text}`), announce: text };
      }
      case "swing:added": {
        const text = swingText(p);
        return { node: line("swing", p.seq, text), announce: text };
      }
      case "annotation:added": {
        const text = annotationText(p, swingOf);
        const node = line("annotation", p.seq, text, annotationThumbnail(p, swingOf(p.swing_id)),
          p.note ? el("p", { className: "tl-summary", text: p.note }) : null);
        return { node, announce: text };
      }
      default: {
        const text = reviewLine(event, p, swingOf); // the review's lead changes and compares
        return text ? { node: line("review", p.seq, text), announce: text } : null;
      }
    }
  };
}
