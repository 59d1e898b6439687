// Deleting a lesson's call recording: one action for the lesson's student or coach, asked
// once with a confirm (DELETE /api/sessions/{id}/recordings/ removes every recording and
// its files; the room hears `recording:deleted`). The recap and the replay both use it.
import { apiFetch } from "../realtime.js";
import { tf } from "../i18n.js";

// `session`: the lesson (`student`, `coach` with ids); `me`: the viewer.
export function mayDeleteRecording(session, me) {
  if (!session || !me) return false;
  const people = [session.student, session.coach].filter(Boolean).map((p) => String(p.id));
  return people.includes(String(me.id));
}

// `button` deletes the lesson's recording after a confirm; `status` says how it went;
// `onDeleted()` runs once the server has deleted it.
export function bindRecordingDelete({ button, status, sessionId, onDeleted }) {
  button.addEventListener("click", async () => {
    if (!window.confirm(gettext("Delete this lesson's call recording? This cannot be undone."))) return;
    button.disabled = true;
    try {
      await apiFetch("DELETE", `/api/sessions/${encodeURIComponent(sessionId)}/recordings/`);
      status.textContent = gettext("The recording was deleted.");
      onDeleted();
    } catch (err) {
      button.disabled = false;
      status.textContent = tf(gettext("The recording could not be deleted: %(message)s"), { message: err.message });
    }
  });
}
