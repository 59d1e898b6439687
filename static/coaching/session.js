// The live session page: topic session:<id> (state, chat, presence, progress, feedback).
/* global Phoenix */
import {
  apiFetch, connectSocket, el, FATAL_JOIN_REASONS, formatTime, listResults, randomId,
} from "./realtime.js";
import { mountReview } from "./review/index.js";

const $ = (id) => document.getElementById(id);
const page = $("session-page");
const sessionId = page.dataset.sessionId;
const api = `/api/sessions/${encodeURIComponent(sessionId)}`;

const ui = {
  badge: $("status-badge"), step: $("current-step"), student: $("student-name"), coach: $("coach-name"),
  error: $("session-error"), waitingHint: $("waiting-hint"),
  controls: $("coach-controls"), pause: $("pause-button"), resume: $("resume-button"),
  end: $("end-button"), stepSelect: $("step-select"), controlError: $("control-error"),
  progressCard: $("progress-card"), progressBar: $("progress-bar"), progressFill: $("progress-fill"),
  progressLabel: $("progress-label"),
  feedbackEmpty: $("feedback-empty"), feedbackList: $("feedback-list"),
  presence: $("presence-list"),
  chatList: $("chat-list"), chatForm: $("chat-form"), chatInput: $("chat-input"),
  chatSend: $("chat-send"), chatError: $("chat-error"),
};

let lastSeq = null;   // highest event seq applied; sent as last_seq when rejoining
let you = null;       // {id, role, name, session_role} from the join reply
let state = null;     // the current session:state
let joined = false;
let controlBusy = false;
let chatBusy = false;
let pendingChat = null; // {text, id}: a resend of the same text reuses its client_msg_id
let progressSwing = null;
const cards = new Map();     // feedback id -> {card, marks}
const checkpoints = new Set(); // checkpoint ids already shown

const safeClass = (value) => String(value || "").toLowerCase().replace(/[^a-z0-9_-]/g, "");

function showMessage(box, message) {
  box.textContent = message || "";
  box.hidden = !message;
}

function errorText(reply, fallback) {
  if (!reply) return fallback;
  return reply.message || reply.reason || fallback;
}

// ---- session state and the controls that depend on it ----------------------

function renderState(next) {
  state = next;
  ui.badge.textContent = next.status;
  ui.badge.className = `badge status-${safeClass(next.status)}`;
  ui.step.textContent = next.current_step;
  ui.student.textContent = next.student ? next.student.name : "—";
  ui.coach.textContent = next.coach ? next.coach.name : "—";
  updateControls();
}

function updateControls() {
  const role = you ? you.session_role : null;
  const status = state ? state.status : null;
  const ended = status === "ended";

  const canChat = joined && (role === "student" || role === "coach") && !ended;
  ui.chatInput.disabled = !canChat;
  ui.chatSend.disabled = !canChat || chatBusy;
  ui.chatInput.placeholder = ended ? "This session has ended."
    : (role === "observer" ? "Observers can read the chat." : "Write a message…");
  ui.waitingHint.hidden = !(status === "waiting" && role === "student");

  const controls = role === "coach" || role === "observer"; // observers (admins) may only end
  ui.controls.hidden = !controls || ended || !state;
  ui.pause.hidden = role !== "coach" || status !== "active";
  ui.resume.hidden = role !== "coach" || status !== "paused";
  ui.stepSelect.parentElement.hidden = role !== "coach";
  if (state) ui.stepSelect.value = state.current_step;
  for (const button of [ui.pause, ui.resume, ui.end, ui.stepSelect]) button.disabled = controlBusy;
}

function control(payload) {
  showMessage(ui.controlError, "");
  controlBusy = true;
  updateControls();
  const done = () => { controlBusy = false; updateControls(); };
  channel.push("session:control", payload)
    // The new state arrives as a session:state broadcast, in order with everything else.
    .receive("ok", done)
    .receive("error", (reply) => {
      showMessage(ui.controlError, errorText(reply, "The change was refused."));
      done();
    })
    .receive("timeout", () => {
      showMessage(ui.controlError, "No answer from the server. Check the connection and try again.");
      done();
    });
}

ui.pause.addEventListener("click", () => control({ status: "paused" }));
ui.resume.addEventListener("click", () => control({ status: "active" }));
ui.end.addEventListener("click", () => {
  if (window.confirm("End this session for everyone? This cannot be undone.")) control({ status: "ended" });
});
ui.stepSelect.addEventListener("change", () => control({ current_step: ui.stepSelect.value }));

// ---- chat ------------------------------------------------------------------

function appendToChat(node, stick) {
  const list = ui.chatList;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  list.append(node);
  if (atBottom || stick) list.scrollTop = list.scrollHeight;
}

function renderChat(msg) {
  const sender = msg.sender || {};
  const mine = you && String(sender.id) === String(you.id);
  appendToChat(el("li", {
    className: `chat-msg${mine ? " mine" : ""} from-${safeClass(sender.role)}`,
    dataset: { seq: msg.seq, id: msg.id },
  },
  el("div", { className: "chat-head" },
    el("span", { className: "chat-sender", text: sender.name || "Someone" }),
    el("span", { className: `role-badge role-${safeClass(sender.role)}`, text: sender.role || "" }),
    el("time", { className: "chat-time", text: formatTime(msg.meta && msg.meta.ts) }),
  ),
  el("p", { className: "chat-text", text: msg.message }),
  ), mine);
}

function renderNotice(notice) {
  appendToChat(el("li", { className: `chat-notice level-${safeClass(notice.level)}`, dataset: { seq: notice.seq } },
    el("span", { text: notice.text })));
}

ui.chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || chatBusy) return;
  if (!pendingChat || pendingChat.text !== text) pendingChat = { text, id: randomId() };
  const sent = pendingChat;
  showMessage(ui.chatError, "");
  chatBusy = true;
  updateControls();
  const done = () => { chatBusy = false; updateControls(); ui.chatInput.focus(); };
  channel.push("chat:new", { message: text, client_msg_id: sent.id })
    .receive("ok", () => {
      // The line itself arrives as chat:added, in seq order with everyone else's.
      if (ui.chatInput.value.trim() === sent.text) ui.chatInput.value = "";
      if (pendingChat === sent) pendingChat = null;
      done();
    })
    .receive("error", (reply) => {
      showMessage(ui.chatError, errorText(reply, "The message was not sent."));
      done();
    })
    .receive("timeout", () => {
      showMessage(ui.chatError, "Not sent yet: the connection is down. Press Send to retry.");
      done();
    });
});

// ---- swing progress and feedback cards -------------------------------------

function renderProgress(progress) {
  const percent = Math.max(0, Math.min(100, Math.round(Number(progress.percent) || 0)));
  progressSwing = progress.swing_id;
  ui.progressCard.hidden = false;
  ui.progressFill.style.width = `${percent}%`;
  ui.progressBar.setAttribute("aria-valuenow", String(percent));
  ui.progressLabel.textContent = `Swing ${progress.swing_id} · ${progress.step || "analysis"} · ${percent}%`;
}

function prettyKey(key) {
  const words = String(key).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function prettyValue(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function metricsTable(metrics) {
  const entries = Object.entries(metrics || {});
  if (!entries.length) return null;
  return el("table", { className: "metrics" },
    el("tbody", {}, entries.map(([key, value]) => el("tr", {},
      el("th", { scope: "row", text: prettyKey(key) }),
      el("td", { text: prettyValue(value) }),
    ))));
}

function checkpointForm(feedback) {
  const note = el("input", { type: "text", maxLength: 2000, placeholder: "Note (optional)",
    className: "checkpoint-note", attrs: { "aria-label": "Checkpoint note" } });
  const button = el("button", { type: "submit", className: "btn btn-small", text: "Save checkpoint" });
  const error = el("p", { className: "form-error", hidden: true, attrs: { role: "alert" } });
  const form = el("form", { className: "checkpoint-form" }, note, button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showMessage(error, "");
    button.disabled = true;
    try {
      const saved = await apiFetch("POST", `${api}/checkpoints/`,
        { feedback_id: feedback.id, note: note.value.trim() });
      note.value = "";
      if (saved && saved.feedback_id !== undefined) markCheckpoint(saved);
    } catch (err) {
      showMessage(error, err.status === 404 || err.status === 405
        ? "Checkpoints are not available yet." : err.message);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function renderFeedback(feedback) {
  const marks = el("div", { className: "checkpoint-marks" });
  const card = el("article", {
    className: "feedback-card",
    dataset: { feedbackId: feedback.id, swingId: feedback.swing_id, seq: feedback.seq },
  },
  el("header", { className: "feedback-head" },
    el("span", { className: "feedback-swing", text: `Swing ${feedback.swing_id}` }),
    feedback.level ? el("span", { className: "badge level", text: feedback.level }) : null,
    el("time", { className: "muted", text: formatTime(feedback.created_at) }),
  ),
  el("p", { className: "feedback-summary", text: feedback.summary }),
  metricsTable(feedback.metrics),
  (feedback.recommendations || []).length
    ? el("ul", { className: "recommendations" },
      feedback.recommendations.map((line) => el("li", { text: line })))
    : null,
  marks,
  you && you.session_role === "coach" ? checkpointForm(feedback) : null,
  );
  const key = String(feedback.id);
  const old = cards.get(key);
  if (old) old.card.replaceWith(card);
  else ui.feedbackList.prepend(card); // newest first
  cards.set(key, { card, marks });
  ui.feedbackEmpty.hidden = true;
  if (progressSwing === feedback.swing_id) {
    renderProgress({ swing_id: feedback.swing_id, percent: 100, step: "done" });
  }
}

function markCheckpoint(checkpoint) {
  const id = String(checkpoint.id);
  const entry = cards.get(String(checkpoint.feedback_id));
  if (checkpoints.has(id) || !entry) return;
  checkpoints.add(id);
  entry.card.classList.add("checkpointed");
  const who = checkpoint.coach ? checkpoint.coach.name : "Coach";
  entry.marks.append(el("p", { className: "checkpoint-mark", dataset: { checkpointId: id } },
    el("span", { className: "star", text: "★", attrs: { "aria-hidden": "true" } }),
    el("span", { text: checkpoint.note ? `Checkpoint by ${who}: ${checkpoint.note}` : `Checkpoint by ${who}` }),
  ));
}

// The snapshot has no checkpoints: read them from the API (optional, the page works without).
async function loadCheckpoints() {
  try {
    for (const checkpoint of listResults(await apiFetch("GET", `${api}/checkpoints/`))) {
      markCheckpoint(checkpoint);
    }
  } catch (err) {
    // not available: cards simply show no marks until a new checkpoint:added arrives
  }
}

// ---- presence ----------------------------------------------------------------

const ROLE_ORDER = { coach: 0, student: 1, admin: 2, service: 3 };

function renderPresence(presence) {
  const people = presence.list((id, { metas }) => ({
    id, name: metas[0].name, role: metas[0].role, tabs: metas.length,
  }));
  people.sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
    || String(a.name).localeCompare(String(b.name)));
  ui.presence.replaceChildren(...people.map((p) => el("li", {
    className: "presence-item", dataset: { userId: p.id, role: safeClass(p.role) },
  },
  el("span", { className: "dot", attrs: { "aria-hidden": "true" } }),
  el("span", { className: "presence-name", text: p.name }),
  you && String(you.id) === String(p.id) ? el("span", { className: "muted", text: "(you)" }) : null,
  el("span", { className: `role-badge role-${safeClass(p.role)}`, text: p.role }),
  )));
}

// ---- the channel ---------------------------------------------------------------

// A persisted event carries a seq: apply it once, and only if it is newer than what we have.
function sequenced(handler) {
  return (payload) => {
    const seq = payload ? payload.seq : undefined;
    if (typeof seq === "number") {
      if (lastSeq !== null && seq <= lastSeq) return;
      lastSeq = seq;
    }
    handler(payload);
  };
}

function applySnapshot(reply) {
  ui.chatList.replaceChildren();
  ui.feedbackList.replaceChildren();
  cards.clear();
  checkpoints.clear();
  ui.feedbackEmpty.hidden = false;
  for (const msg of reply.messages || []) renderChat(msg);
  for (const feedback of reply.feedback || []) renderFeedback(feedback);
  if (reply.session) renderState(reply.session);
  lastSeq = typeof reply.last_seq === "number" ? reply.last_seq : 0;
  loadCheckpoints();
}

let channel = null;

// The server's clock, estimated from the join reply's server_time (the local clock until then).
let clockOffset = 0;
const serverClock = () => Date.now() + clockOffset;

async function main() {
  const socket = await connectSocket({ indicator: $("connection") });
  // A function, so every rejoin (after a reconnect) sends the seq we are current to.
  channel = socket.channel(`session:${sessionId}`, () => (lastSeq === null ? {} : { last_seq: lastSeq }));

  const review = mountReview({ root: $("review"), channel, you, serverClock });
  channel.on("session:state", sequenced(renderState));
  channel.on("chat:added", sequenced(renderChat));
  channel.on("system:notice", sequenced(renderNotice));
  channel.on("ai:feedback", sequenced(renderFeedback));
  channel.on("checkpoint:added", sequenced(markCheckpoint));
  channel.on("swing:progress", renderProgress); // ephemeral: no seq

  const presence = new Phoenix.Presence(channel, { events: { state: "presence:state", diff: "presence:diff" } });
  presence.onSync(() => renderPresence(presence));

  channel.join()
    .receive("ok", (reply) => {
      if (typeof reply.server_time === "number") clockOffset = reply.server_time - Date.now();
      you = reply.you || you;
      joined = true;
      showMessage(ui.error, "");
      const mode = reply.recovery ? reply.recovery.mode : null;
      if (mode === "replay" && lastSeq !== null) {
        // What we missed follows this reply as ordinary events; what we have stays.
        updateControls();
      } else {
        applySnapshot(reply); // first join, or too far behind: start over from the snapshot
      }
      review.onJoin(reply);
    })
    .receive("error", (reply) => {
      joined = false;
      updateControls();
      showMessage(ui.error, errorText(reply, "Could not join the session."));
      if (FATAL_JOIN_REASONS.has(reply && reply.reason)) channel.leave(); // retrying cannot help
      else if (reply && reply.reason === "invalid_input") lastSeq = null;
    });
}

updateControls();
main().catch((err) => showMessage(ui.error, err.message));
