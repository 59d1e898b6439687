// Coach dashboard: the live waiting list (topic lobby:coaches), claim, and my sessions.
import {
  apiFetch, connectSocket, el, FATAL_JOIN_REASONS, formatDateTime, listResults, sessionUrl,
} from "./realtime.js";

const page = document.getElementById("coach-page");
const myId = page.dataset.userId;
const waitingList = document.getElementById("waiting-list");
const waitingEmpty = document.getElementById("waiting-empty");
const waitingCount = document.getElementById("waiting-count");
const errorBox = document.getElementById("lobby-error");
const mineCard = document.getElementById("mine-card");
const myList = document.getElementById("my-list");

const waiting = new Map(); // session_id -> lobby entry, oldest first

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

async function claim(entry, button) {
  showError("");
  button.disabled = true;
  try {
    await apiFetch("POST", `/api/sessions/${encodeURIComponent(entry.session_id)}/claim/`);
    location.assign(sessionUrl(entry.session_id));
  } catch (err) {
    showError(err.message);
    button.disabled = false;
    if (err.status === 409 || err.status === 404) {
      waiting.delete(entry.session_id);
      render();
    }
  }
}

function waitingItem(entry) {
  const button = el("button", { className: "btn btn-primary btn-small", type: "button", text: "Enter" });
  button.addEventListener("click", () => claim(entry, button));
  return el("li", { className: "session-item", dataset: { sessionId: entry.session_id } },
    el("div", { className: "session-main" },
      el("span", { className: "session-title", text: entry.student ? entry.student.name : "Student" }),
      el("span", { className: "session-topic", text: entry.title || "Live coaching" }),
      el("span", { className: "muted", text: `Waiting since ${formatDateTime(entry.created_at)}` }),
    ),
    button,
  );
}

function render() {
  waitingList.replaceChildren(...[...waiting.values()].map(waitingItem));
  waitingCount.textContent = String(waiting.size);
  waitingEmpty.hidden = waiting.size > 0;
}

function myItem(session) {
  return el("li", { className: "session-item" },
    el("div", { className: "session-main" },
      el("a", { className: "session-title", href: sessionUrl(session.session_id),
        text: session.student ? session.student.name : "Student" }),
      el("span", { className: "muted", text: session.title || "Live coaching" }),
    ),
    el("span", { className: `badge status-${session.status}`, text: session.status }),
  );
}

// My active and paused sessions, to go back in. Optional: the page works without the list API.
async function loadMine() {
  try {
    const sessions = listResults(await apiFetch("GET", "/api/sessions/"))
      .filter((s) => s.coach && String(s.coach.id) === myId && s.status !== "ended");
    myList.replaceChildren(...sessions.map(myItem));
    mineCard.hidden = sessions.length === 0;
  } catch (err) {
    mineCard.hidden = true;
  }
}

async function main() {
  const socket = await connectSocket({ indicator: document.getElementById("connection") });
  const lobby = socket.channel("lobby:coaches", {});

  lobby.on("session:waiting", (entry) => {
    waiting.set(entry.session_id, entry);
    render();
  });
  const remove = (entry) => {
    if (waiting.delete(entry.session_id)) render();
  };
  lobby.on("session:claimed", (entry) => {
    remove(entry);
    if (entry.coach && String(entry.coach.id) === myId) loadMine();
  });
  lobby.on("session:ended", remove);

  lobby.join()
    .receive("ok", (reply) => {
      // Every (re)join brings the full waiting list.
      showError("");
      waiting.clear();
      for (const entry of reply.sessions || []) waiting.set(entry.session_id, entry);
      render();
    })
    .receive("error", (reply) => {
      showError(reply.message || `Could not open the waiting list (${reply.reason}).`);
      if (FATAL_JOIN_REASONS.has(reply.reason)) lobby.leave();
    });
}

render();
loadMine();
main().catch((err) => showError(err.message));
