// Student home: my sessions, and "Start live coaching".
import { apiFetch, el, formatDateTime, listResults, sessionUrl } from "./realtime.js";

const form = document.getElementById("start-form");
const titleInput = document.getElementById("session-title");
const startButton = document.getElementById("start-button");
const startError = document.getElementById("start-error");
const list = document.getElementById("session-list");
const listStatus = document.getElementById("sessions-status");

function showError(message) {
  startError.textContent = message;
  startError.hidden = !message;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  startButton.disabled = true;
  try {
    const session = await apiFetch("POST", "/api/sessions/", { title: titleInput.value.trim() });
    location.assign(sessionUrl(session.session_id));
  } catch (err) {
    showError(err.message);
    startButton.disabled = false;
  }
});

function sessionItem(session) {
  const title = session.title || "Live coaching";
  const coach = session.coach ? `Coach ${session.coach.name}` : "Waiting for a coach";
  return el("li", { className: "session-item" },
    el("div", { className: "session-main" },
      el("a", { className: "session-title", href: sessionUrl(session.session_id), text: title }),
      el("span", { className: "muted", text: `${coach} · ${formatDateTime(session.created_at)}` }),
    ),
    el("span", { className: `badge status-${session.status}`, text: session.status }),
  );
}

async function loadSessions() {
  try {
    const sessions = listResults(await apiFetch("GET", "/api/sessions/"));
    list.replaceChildren(...sessions.map(sessionItem));
    listStatus.textContent = sessions.length ? "" : "No sessions yet.";
    listStatus.hidden = sessions.length > 0;
  } catch (err) {
    // The page works without the list (e.g. an older API): starting a session still does.
    listStatus.textContent = (err.status === 404 || err.status === 405)
      ? "Your session history is not available yet."
      : `Your sessions could not be loaded: ${err.message}`;
  }
}

loadSessions();
