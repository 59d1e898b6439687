// Student home: my lessons, and "Start live coaching". A student waits once: starting
// again opens the waiting lesson (the API returns it).
import { apiFetch, el, formatDateTime, listResults, sessionUrl } from "./realtime.js";
import { statusLabel, tf } from "./i18n.js";

const $ = (id) => document.getElementById(id);

function showError(message) {
  $("start-error").textContent = message;
  $("start-error").hidden = !message;
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("start-button").disabled = true;
  try {
    const session = await apiFetch("POST", "/api/sessions/", { title: $("session-title").value.trim() });
    location.assign(sessionUrl(session.session_id));
  } catch (err) {
    showError(err.message);
    $("start-button").disabled = false;
  }
});

function sessionItem(session) {
  const coach = session.coach ? tf(gettext("Coach %(name)s"), { name: session.coach.name }) : gettext("Waiting for a coach");
  return el("li", { className: "session-item" },
    el("div", { className: "session-main" },
      el("a", { className: "session-title", href: sessionUrl(session.session_id), text: session.title || gettext("Live lesson") }),
      el("span", { className: "muted", text: `${coach} · ${formatDateTime(session.created_at)}` }),
    ),
    el("span", { className: `badge status-${session.status}`, text: statusLabel(session.status) }),
  );
}

async function loadSessions() {
  const status = $("sessions-status");
  try {
    const sessions = listResults(await apiFetch("GET", "/api/sessions/"));
    $("session-list").replaceChildren(...sessions.map(sessionItem));
    status.textContent = sessions.length ? "" : gettext("No lessons yet.");
    status.hidden = sessions.length > 0;
    const open = sessions.find((s) => s.status === "waiting");
    if (open) {
      $("resume-link").href = sessionUrl(open.session_id);
      $("resume-card").hidden = false;
    }
  } catch (err) {
    status.textContent = tf(gettext("Your lessons could not be loaded: %(error)s"), { error: err.message });
  }
}

loadSessions();
