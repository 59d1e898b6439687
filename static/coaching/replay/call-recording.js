// The replay's "Call recording" card: how long the lesson's recorded call is ("통화 녹음
// 12분 34초") and, for the lesson's student or coach, one button that deletes it and its
// files (call/recording-delete.js). Its <audio> is driven by audio-driver.js.
import { formatMinutesSeconds, tf } from "../i18n.js";
import { bindRecordingDelete, mayDeleteRecording } from "../call/recording-delete.js";

export function mountCallRecording({ doc, me, ui, onDeleted }) {
  const recordings = doc.recordings || [];
  ui.root.hidden = recordings.length === 0;
  if (!recordings.length) return;
  const total = recordings.reduce((sum, r) => sum + r.duration_ms, 0);
  ui.length.textContent = tf(gettext("Call recording %(time)s"), { time: formatMinutesSeconds(total) });
  ui.remove.hidden = !(doc.session.id && mayDeleteRecording(doc.session, me));
  bindRecordingDelete({
    button: ui.remove, status: ui.status, sessionId: doc.session.id,
    onDeleted: () => {
      onDeleted();
      ui.length.textContent = "";
      ui.remove.hidden = true;
    },
  });
}
