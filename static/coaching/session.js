// The lesson room (topic session:<id>): wires the room's modules to the channel.
//   the room's state (me, session, swings, seq) → room-state.js
//   connection state → room/connection.js   timeline → room/timeline.js + entries.js
//   outbox and message box → room/outbox.js, chat.js   state → room/state-banner.js
//   analysis and cards → room/analysis.js   recap → room/recap.js   phone tabs → room/tabs.js
//   the voice call → call/index.js   filming and uploading a swing → upload/index.js
//   share viewers' count → room/watching.js   opened through a share link → room/share-link.js
/* global Phoenix */
import { apiFetch, connectSocket, FATAL_JOIN_REASONS, reveal } from "./realtime.js";
import { mountCall } from "./call/index.js";
import { formatDuration, tf } from "./i18n.js";
import { mountReview } from "./review/index.js";
import { mountUpload } from "./upload/index.js";
import { RoomState } from "./room-state.js";
import { AnalysisPanel } from "./room/analysis.js";
import { Composer, messageNode } from "./room/chat.js";
import { ConnectionStatus } from "./room/connection.js";
import { Controls } from "./room/controls.js";
import { analysisGroup, entryRenderer } from "./room/entries.js";
import { FAIL_AFTER_MS, Outbox } from "./room/outbox.js";
import { renderPresence } from "./room/presence.js";
import { recordingDeleted, renderRecap } from "./room/recap.js";
import { goneText, shareToken } from "./room/share-link.js";
import { StateBanner } from "./room/state-banner.js";
import { Tabs } from "./room/tabs.js";
import { Timeline } from "./room/timeline.js";
import { renderWatching } from "./room/watching.js";

const $ = (id) => document.getElementById(id);
const page = $("session-page");
const sessionId = page.dataset.sessionId;
// Opened through a share link: read-only, no account, no REST (room/share-link.js).
const viaShare = page.dataset.share === "1";
const api = `/api/sessions/${encodeURIComponent(sessionId)}`;
const replayUrl = `/sessions/${encodeURIComponent(sessionId)}/replay/`;
// Events of the session's log: the room's state applies each once, in seq order.
const LOGGED = ["chat:added", "system:notice", "session:state", "ai:feedback", "checkpoint:added",
  "analysis:milestone", "swing:added", "annotation:added"];

const room = new RoomState({
  me: JSON.parse($("you").textContent), createdAt: Number(page.dataset.createdAt) || null,
});
let joined = false;
// Writing needs no connection: the outbox keeps lines until they are delivered.
const mayWrite = () => (room.role === "student" || room.role === "coach") && room.session && !room.ended;

const connection = new ConnectionStatus({ pill: $("connection"), banner: $("connection-banner") });
const tabs = new Tabs({ tablist: $("room-tabs"), toastRoot: $("toast-root") });
// A hidden panel cannot scroll: the timeline catches up with the latest when it shows.
tabs.onSelect = (panelId) => {
  if (panelId === "panel-chat" && !timeline.unread) timeline.scrollToEnd();
};
const banner = new StateBanner({
  banner: $("state-banner"), message: $("state-message"), detail: $("state-detail"),
  badge: $("status-badge"), step: $("current-step"), stepSource: $("step-source"), serverNow: () => room.serverNow(),
});
const analysis = new AnalysisPanel({
  card: $("progress-card"), bar: $("progress-bar"), fill: $("progress-fill"), label: $("progress-label"),
  list: $("feedback-list"), empty: $("feedback-empty"), unitPick: $("speed-unit"), room, options: { isCoach: false, api },
});
const controls = new Controls({
  root: $("coach-controls"), pause: $("pause-button"), resume: $("resume-button"), end: $("end-button"),
  step: $("step-select"), error: $("control-error"), claim: $("claim-button"), claimError: $("claim-error"), api,
  fallback: $("timeline"),
});
controls.onBusy = () => updateUi();

// Opening a card or the recap scrolls only the panel (or column) that holds it.
function openCard(feedbackId) {
  const card = analysis.cardElement(feedbackId);
  tabs.select("panel-analysis");
  if (card) reveal(card, { smooth: true });
}

function openRecap() {
  tabs.select("panel-analysis");
  const recap = $("recap");
  if (!recap.hidden) reveal(recap);
}

// The skip link: past the header and controls to the message box (or, for a reader who
// cannot write, the timeline), on a phone through the Chat tab.
$("skip-to-chat").addEventListener("click", (event) => {
  event.preventDefault();
  tabs.select("panel-chat");
  const input = $("chat-input");
  if (!$("chat-form").hidden && !input.disabled) input.focus();
  else $("timeline").focus();
});

const timeline = new Timeline({
  scroller: $("timeline"), list: $("chat-list"), earlier: $("load-earlier"), jump: $("jump-latest"),
  live: $("timeline-live"),
  render: entryRenderer({ room, openCard, openRecap, hasCard: (swingId) => analysis.hasCard(swingId) }),
  loadPage: (beforeSeq) => apiFetch("GET", `${api}/events/?before_seq=${beforeSeq}&limit=50`),
  onPrepend: () => {
    // A state change reads from the state before it, which an older page may just have brought.
    for (const [seq] of timeline.each("session:state")) timeline.replace(seq);
    $("timeline-start").hidden = timeline.hasMoreBefore;
  },
});

// ---- the outbox: every line is kept until the server acknowledges it --------------------

function failText(item) {
  if (item.error === "timeout") {
    return tf(gettext("Not sent for %(time)s: the connection did not come back. Retry when you are online."),
      { time: formatDuration(FAIL_AFTER_MS) });
  }
  return item.message || item.error || gettext("The message was refused.");
}

function showPending(item) {
  if (!outbox.items.includes(item)) return;
  const sender = room.me;
  timeline.showPending(item.id, messageNode(
    { sender: { id: sender.id, name: sender.name, role: sender.role }, message: item.text, meta: { ts: item.writtenAt }, client_msg_id: item.id },
    {
      mine: true, state: item.state, failText: failText(item),
      onRetry: () => outbox.retry(item.id),
      onDiscard: () => { outbox.remove(item.id); timeline.dropPending(item.id); },
    },
  ));
}

const outbox = new Outbox(`inswing:outbox:${sessionId}:${room.me.id}`, {
  onChange: showPending,
  onAck: (item, message) => {
    timeline.dropPending(item.id);
    if (message) timeline.add("chat:added", message, { mine: true });
  },
});

const composer = new Composer({
  form: $("chat-form"), input: $("chat-input"), send: $("chat-send"), counter: $("chat-counter"),
  hint: $("chat-hint"), onSend: (text) => outbox.add(text),
});

// ---- state, events ----------------------------------------------------------------------

function updateUi() {
  const r = room.role;
  let placeholder = gettext("Write a message…");
  if (room.ended) placeholder = gettext("This lesson has ended.");
  composer.setEnabled(Boolean(mayWrite()), placeholder);
  $("chat-form").hidden = r === "observer" || r === "preview" || r === "share" || Boolean(page.dataset.preview);
  controls.update(room.session, r, joined);
  analysis.options.isCoach = r === "coach";
}

async function loadRecap() {
  try {
    renderRecap($("recap"), await apiFetch("GET", `${api}/recap/`), room, { replayUrl });
  } catch (err) {
    // shown on the next join's snapshot instead
  }
}

room.on("session", (state, { from, live }) => {
  $("student-name").textContent = state.student ? state.student.name : "—";
  $("coach-name").textContent = state.coach ? state.coach.name : "—";
  banner.update(state, room.role, { changedFrom: from });
  updateUi();
  // A share link's page shows the ended lesson's recap as the link's own page.
  if (live && state.status === "ended") viaShare ? location.reload() : loadRecap();
});

// One logged event, live (from the room's state) or from the snapshot.
function apply(event, payload, { live }) {
  let mine = false;
  // A swing's analysis is one line: only its first step is news.
  let news = live && event !== "chat:added";
  if (event === "ai:feedback") {
    const card = analysis.feedback(payload);
    if (live) {
      tabs.news("panel-analysis");
      tabs.toast(gettext("New AI feedback is ready."), "panel-analysis", card);
    }
  } else if (event === "checkpoint:added") {
    analysis.checkpoint(payload);
    if (live) tabs.news("panel-analysis");
  } else if (event === "analysis:milestone") {
    analysis.progress(payload);
    news = news && !timeline.hasGroup(analysisGroup(payload.swing_id));
  } else if (event === "swing:added") {
    if (live) tabs.news("panel-swing");
  } else if (event === "chat:added") {
    mine = Boolean(payload.sender && String(payload.sender.id) === String(room.me.id));
    if (mine && payload.client_msg_id) {
      outbox.remove(payload.client_msg_id); // delivered, whichever attempt got through
      timeline.dropPending(payload.client_msg_id);
    }
  }
  timeline.add(event, payload, { live, mine });
  // The card ends its swing's analysis line ("analysis complete").
  if (event === "ai:feedback") timeline.refreshGroup(analysisGroup(payload.swing_id));
  if (news) tabs.news("panel-chat");
}

room.on("event", (event, payload) => apply(event, payload, { live: true }));

function applySnapshot(reply) {
  timeline.reset();
  analysis.reset();
  for (const feedback of reply.feedback || []) analysis.feedback(feedback);
  for (const checkpoint of reply.checkpoints || []) analysis.checkpoint(checkpoint);
  for (const { event, payload } of reply.events || []) apply(event, payload, { live: false });
  if (!reply.events) for (const msg of reply.messages || []) apply("chat:added", msg, { live: false });
  // A share link's viewer has the join's latest events only (no account for the API).
  timeline.setHasMoreBefore(Boolean(reply.has_more_before) && !viaShare);
  $("timeline-start").hidden = Boolean(reply.has_more_before) || !reply.events;
  renderRecap($("recap"), reply.recap || null, room, { replayUrl });
  timeline.scrollToEnd();
}

room.on("join", (reply, { snapshot, diverged }) => {
  // A snapshot replaces the timeline, chat and cards (lines in the outbox stay, and are
  // sent again); `diverged`: the server lost events shown here, which go with them.
  if (snapshot) applySnapshot(reply); // else: the missed events follow
  if (diverged) timeline.live.textContent = gettext("The timeline was reloaded from the server.");
  updateUi();
});

// ---- the channel ---------------------------------------------------------------------------

function showError(text) {
  $("session-error").textContent = text;
  $("session-error").hidden = false;
}

let socket = null;
// The share link was revoked or has expired: say so, and stop reconnecting.
function shareGone(code) {
  showError(goneText(code));
  if (socket) socket.disconnect();
}

async function main() {
  for (const item of outbox.items) showPending(item);
  socket = await connectSocket(viaShare
    ? { status: connection, fetchToken: shareToken, onGone: shareGone, session: sessionId }
    : { status: connection, session: sessionId });
  // A function, so every rejoin (after a reconnect) sends the seq we are current to.
  const channel = socket.channel(`session:${sessionId}`, () => room.joinParams());
  controls.channel = channel;
  const review = mountReview({ root: $("review"), channel, room });
  if ($("film")) mountUpload({ root: $("film"), api, room, onUploaded: (swing) => review.present(swing.swing_id) });
  const call = mountCall({ root: $("call-bar"), channel, room });

  for (const event of LOGGED) channel.on(event, (payload) => room.receive(event, payload));
  channel.on("swing:progress", (progress) => analysis.progress(progress, room.serverNow())); // ephemeral
  channel.onError(() => { joined = false; connection.lost(); updateUi(); });

  // Who is here, and how many watch through a share link (a share viewer gets neither).
  channel.on("presence:watching", ({ count }) => renderWatching($("watching"), count));
  channel.on("recording:deleted", () => recordingDeleted($("recap")));
  const presence = new Phoenix.Presence(channel, { events: { state: "presence:state", diff: "presence:diff" } });
  let presenceTicker = null;
  const showPresence = () => {
    const someoneLost = renderPresence(
      $("presence-list"), $("presence-count"), presence, room.me, () => room.serverNow(),
    );
    if (someoneLost && !presenceTicker) presenceTicker = setInterval(showPresence, 1000);
    if (!someoneLost && presenceTicker) { clearInterval(presenceTicker); presenceTicker = null; }
    call.presence(presence);
  };
  presence.onSync(showPresence);

  channel.join()
    .receive("ok", (reply) => {
      joined = true;
      // A rejoin after the server ended the join (phx_error) on a socket that stayed up.
      if (socket.isConnected()) connection.set("online");
      $("session-error").hidden = true;
      room.join(reply);
      outbox.attach(channel, () => joined);
    })
    .receive("error", (reply) => {
      joined = false;
      updateUi();
      showError((reply && reply.message) || gettext("Could not join the lesson."));
      if (FATAL_JOIN_REASONS.has(reply && reply.reason)) channel.leave(); // retrying cannot help
      else if (reply && reply.reason === "invalid_input") room.forgetSeq();
    });
}

updateUi();
main().catch((err) => {
  if (err.status !== 410) showError(err.message); // a gone share link said so already
});
