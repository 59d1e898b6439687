// The end-of-lesson recap (snapshot `recap`, REST /recap/): duration, every card, the
// coach's checkpoints with notes, what to practise, and the coach's annotations; the
// call recording's length, which its student or coach may delete (gone on
// `recording:deleted`: recordingDeleted()).
// Kept on the page after the lesson, at the top of the view: when it first shows it
// moves above the swing video (desktop: the top of the main column, which scrolls to
// it) or above the tabs (phone: a band of its own that scrolls inside). Only those
// columns scroll, never the document.
import { annotationThumbnail } from "../review/thumbnail.js";
import { bindRecordingDelete, mayDeleteRecording } from "../call/recording-delete.js";
import { el } from "../realtime.js";
import { formatDateTime, formatDuration, formatMinutesSeconds, formatTime, swingName, tf } from "../i18n.js";
import { levelInfo } from "./feedback-card.js";

function section(title, ...children) {
  return el("section", { className: "recap-section" }, el("h3", { text: title }), ...children);
}

// "Nov 28, 11:02 AM – 11:40 AM": the day once when the lesson ends the same day.
function span(start, end) {
  const sameDay = end && new Date(start).toDateString() === new Date(end).toDateString();
  return `${formatDateTime(start)} – ${sameDay ? formatTime(end) : formatDateTime(end)}`;
}

const PHONE = window.matchMedia("(max-width: 760px)");

// Where the top of the view is: above the tabs on a phone, else the main column's top.
function placeAtTop(root) {
  const main = document.querySelector(".room-main");
  const tabs = document.getElementById("room-tabs");
  if (!main || !tabs) return;
  const phone = PHONE.matches;
  if (phone) tabs.before(root);
  else main.prepend(root);
  root.classList.add("recap-top");
  root.tabIndex = phone ? 0 : -1; // a box that scrolls on its own takes the keyboard (phone)
  (phone ? root : main).scrollTop = 0;
}

function keepAtTop(root) {
  if (root.dataset.atTop) return;
  root.dataset.atTop = "1";
  PHONE.addEventListener("change", () => placeAtTop(root));
}

// "Call recording 12분 34초" and, for the lesson's student or coach, its Delete button.
function callRecording(recap, room, status) {
  if (!recap.call_recording_ms) return null;
  const line = el("span", { className: "recap-call" }, tf(gettext("Call recording %(time)s"),
    { time: formatMinutesSeconds(recap.call_recording_ms) }));
  if (room.session && mayDeleteRecording(room.session, room.me)) {
    const button = el("button", { type: "button", className: "btn btn-small btn-danger", text: gettext("Delete the recording") });
    bindRecordingDelete({ button, status, sessionId: room.session.session_id, onDeleted: () => line.remove() });
    line.append(" ", button);
  }
  return line;
}

// The lesson's recording was deleted (here or on another page): its line goes.
export function recordingDeleted(root) {
  root.querySelector(".recap-call")?.remove();
}

// `room`: the room's state (room-state.js), for the swings; `replayUrl`: the lesson's
// replay, linked once the lesson has ended.
export function renderRecap(root, recap, room, { replayUrl = null } = {}) {
  if (!recap) {
    root.hidden = true;
    return;
  }
  const first = root.hidden;
  const cards = recap.feedback || [];
  const checkpoints = recap.checkpoints || [];
  const practice = recap.practice || [];
  const annotations = recap.annotations || [];
  const cardById = new Map(cards.map((c) => [String(c.id), c]));
  const callStatus = el("p", { className: "muted recap-call-status", attrs: { role: "status" } });
  const parts = [
    el("h2", { id: "recap-title", text: gettext("Lesson recap") }),
    el("p", { className: "recap-meta" },
      el("span", { text: tf(gettext("Duration %(time)s"), { time: formatDuration(recap.duration_ms || 0) }) }),
      recap.started_at ? el("span", { className: "muted", text: span(recap.started_at, recap.ended_at) }) : null,
      callRecording(recap, room, callStatus)),
    callStatus,
    replayUrl && recap.ended_at
      ? el("p", {}, el("a", { className: "btn btn-small btn-primary", href: replayUrl, text: gettext("Watch the replay") }))
      : null,
    section(gettext("What to practise"), practice.length
      ? el("ol", { className: "recap-practice" }, practice.map((line) => el("li", { text: line })))
      : el("p", { className: "muted", text: gettext("No practice items in this lesson.") })),
    section(gettext("Coach's checkpoints"), checkpoints.length
      ? el("ul", { className: "recap-checkpoints" }, checkpoints.map((c) => {
        const card = cardById.get(String(c.feedback_id));
        return el("li", {},
          el("strong", { text: swingName(room.swing(c.swing_id), card && card.created_at) }),
          el("span", { text: c.note ? ` — ${c.note}` : ` — ${gettext("(no note)")}` }));
      }))
      : el("p", { className: "muted", text: gettext("No checkpoints were saved.") })),
    section(tf(gettext("Feedback cards (%(count)s)"), { count: cards.length }), cards.length
      ? el("ul", { className: "recap-cards" }, cards.map((card) => el("li", {},
        el("strong", { text: swingName(room.swing(card.swing_id), card.created_at) }),
        card.level ? el("span", { className: "badge level", text: levelInfo(card.level).name }) : null,
        el("p", { text: card.summary }))))
      : el("p", { className: "muted", text: gettext("No feedback cards in this lesson.") })),
    annotations.length ? section(gettext("Coach's drawings"), el("ul", { className: "recap-annotations" },
      annotations.map((a) => el("li", {}, annotationThumbnail(a, room.swing(a.swing_id)),
        a.note ? el("p", { text: a.note }) : null)))) : null,
  ];
  root.replaceChildren(...parts.filter(Boolean));
  root.hidden = false;
  // The lesson is over: the recap leads, once (a rejoin leaves the view where it is).
  if (first && recap.ended_at) {
    placeAtTop(root);
    keepAtTop(root);
  }
}
