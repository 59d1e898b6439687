// Swings known to the page (snapshot `swings`, `swing:added`): their human names.
import { formatTime, tf } from "../i18n.js";

const swings = new Map();

export function rememberSwing(swing) {
  if (swing && swing.swing_id) swings.set(String(swing.swing_id), swing);
}

export function swingOf(swingId) {
  return swings.get(String(swingId)) || null;
}

// The swing's own label when known; else when it was recorded or analysed. Never the id.
export function swingName(swingId, atMs) {
  const swing = swingOf(swingId);
  if (swing && swing.label) return swing.label;
  const when = (swing && swing.recorded_at) || atMs;
  return when ? tf(gettext("Swing at %(time)s"), { time: formatTime(when) }) : gettext("Swing");
}
