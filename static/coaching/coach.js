// Coach dashboard: the live waiting list (topic lobby:coaches), alerts, and my lessons.
import { apiFetch, connectSocket, el, FATAL_JOIN_REASONS, listResults, sessionUrl } from "./realtime.js";
import { statusLabel } from "./i18n.js";
import { WaitingAlerts } from "./dashboard/alerts.js";
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

function myItem(session) {
  return el("li", { className: "session-item" },
    el("div", { className: "session-main" },
      el("a", { className: "session-title", href: sessionUrl(session.session_id), text: session.student ? session.student.name : gettext("Student") }),
      el("span", { className: "muted", text: session.title || gettext("No topic given") }),
    ),
    el("span", { className: `badge status-${session.status}`, text: statusLabel(session.status) }),
  );
}

// My active and paused lessons, to go back in.
async function loadMine() {
  try {
    const sessions = listResults(await apiFetch("GET", "/api/sessions/"))
      .filter((s) => s.coach && String(s.coach.id) === myId && s.status !== "ended");
    $("my-list").replaceChildren(...sessions.map(myItem));
    $("mine-card").hidden = sessions.length === 0;
  } catch (err) {
    $("mine-card").hidden = true;
  }
}

async function main() {
  const status = new ConnectionStatus({ pill: $("connection"), banner: $("connection-banner") });
  const socket = await connectSocket({ status });
  const lobby = socket.channel("lobby:coaches", {});
  lobby.on("session:waiting", (entry) => {
    if (waiting.put(entry)) alerts.studentStartedWaiting();
  });
  lobby.on("session:claimed", (entry) => {
    waiting.remove(entry.session_id);
    if (entry.coach && String(entry.coach.id) === myId) loadMine();
  });
  lobby.on("session:ended", (entry) => waiting.remove(entry.session_id));
  // A waiting session got its first card: the entry's swing summary changes in place.
  lobby.on("session:updated", (entry) => waiting.put(entry));
  lobby.join()
    .receive("ok", (reply) => {
      // Every (re)join brings the full waiting list.
      if (typeof reply.server_time === "number") serverOffset = reply.server_time - Date.now();
      waiting.showError("");
      waiting.replaceAll(reply.sessions || []);
    })
    .receive("error", (reply) => {
      waiting.showError(reply.message || gettext("Could not open the waiting list."));
      if (FATAL_JOIN_REASONS.has(reply.reason)) lobby.leave();
    });
}

waiting.render();
loadMine();
main().catch((err) => waiting.showError(err.message));
