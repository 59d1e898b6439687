// Coach dashboard: the live waiting list (topic lobby:coaches), alerts, and my lessons
// (in progress and recently ended, dashboard/my-lessons.js).
import { connectSocket, FATAL_JOIN_REASONS } from "./realtime.js";
import { WaitingAlerts } from "./dashboard/alerts.js";
import { MyLessons } from "./dashboard/my-lessons.js";
import { WaitingList } from "./dashboard/waiting-list.js";
import { ConnectionStatus } from "./room/connection.js";

const $ = (id) => document.getElementById(id);
const myId = $("coach-page").dataset.userId;
let serverOffset = 0;

const waiting = new WaitingList({
  list: $("waiting-list"), empty: $("waiting-empty"), count: $("waiting-count"), error: $("lobby-error"),
  serverNow: () => Date.now() + serverOffset,
});
const alerts = new WaitingAlerts({ toggle: $("sound-toggle") });
waiting.onCount = (n) => alerts.count(n);

const mine = new MyLessons({
  openList: $("open-list"), openEmpty: $("open-empty"), openCount: $("open-count"),
  recentList: $("recent-list"), recentEmpty: $("recent-empty"), error: $("mine-error"),
});
const isMine = (entry) => Boolean(entry.coach && String(entry.coach.id) === myId);
// Back from a lesson in another tab: it may have been paused, resumed or ended there.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") mine.load();
});

async function main() {
  const status = new ConnectionStatus({ pill: $("connection"), banner: $("connection-banner") });
  const socket = await connectSocket({ status });
  const lobby = socket.channel("lobby:coaches", {});
  let rejoin = false;
  lobby.on("session:waiting", (entry) => {
    if (waiting.put(entry)) alerts.studentStartedWaiting();
  });
  lobby.on("session:claimed", (entry) => {
    waiting.remove(entry.session_id);
    if (isMine(entry)) mine.load();
  });
  lobby.on("session:ended", (entry) => {
    waiting.remove(entry.session_id);
    if (isMine(entry)) mine.load();
  });
  // A waiting session's entry changes in place: a new topic, or its latest swing's card.
  lobby.on("session:updated", (entry) => waiting.put(entry));
  lobby.join()
    .receive("ok", (reply) => {
      // Every (re)join brings the full waiting list.
      if (typeof reply.server_time === "number") serverOffset = reply.server_time - Date.now();
      waiting.showError("");
      waiting.replaceAll(reply.sessions || []);
      if (rejoin) mine.load(); // what changed while the lobby was away
      rejoin = true;
    })
    .receive("error", (reply) => {
      waiting.showError(reply.message || gettext("Could not open the waiting list."));
      if (FATAL_JOIN_REASONS.has(reply.reason)) lobby.leave();
    });
}

waiting.render();
mine.load();
main().catch((err) => waiting.showError(err.message));
