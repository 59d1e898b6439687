// The replay's "Call recording" card: how long the lesson's recorded call is ("통화 녹음
// 12분 34초") and, for the lesson's student or coach, one button that deletes it and its
// files (DELETE /api/sessions/{id}/recordings/). Its <audio> is driven by audio-driver.js.
import { formatMinutesSeconds, tf } from "../i18n.js";
import { apiFetch } from "../realtime.js";

export function mountCallRecording({ doc, me, ui, onDeleted }) {
  const recordings = doc.recordings || [];
  ui.root.hidden = recordings.length === 0;
  if (!recordings.length) return;
  const total = recordings.reduce((sum, r) => sum + r.duration_ms, 0);
  ui.length.textContent = tf(gettext("Call recording %(time)s"), { time: formatMinutesSeconds(total) });
  const people = [doc.session.student, doc.session.coach].filter(Boolean).map((p) => String(p.id));
  const mayDelete = Boolean(me && doc.session.id && people.includes(String(me.id)));
  ui.remove.hidden = !mayDelete;
  ui.remove.addEventListener("click", async () => {
    if (!window.confirm(gettext("Delete this lesson's call recording? This cannot be undone."))) return;
    ui.remove.disabled = true;
    try {
      await apiFetch("DELETE", `/api/sessions/${encodeURIComponent(doc.session.id)}/recordings/`);
      onDeleted();
      ui.length.textContent = "";
      ui.remove.hidden = true;
      ui.status.textContent = gettext("The recording was deleted.");
    } catch (err) {
      ui.remove.disabled = false;
      ui.status.textContent = tf(gettext("The recording could not be deleted: %(message)s"), { message: err.message });
    }
  });
}
