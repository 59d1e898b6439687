// Strings through Django's JavaScript catalog (global gettext / interpolate) when the
// page loads it; the English source text otherwise.

export function t(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

// t(), then %(name)s placeholders filled from `params`.
export function tf(text, params) {
  const template = t(text);
  if (typeof window.interpolate === "function") return window.interpolate(template, params, true);
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(params[key] ?? ""));
}

// 1234 ms → "1.23 s"
export function formatSeconds(ms) {
  return tf("%(seconds)s s", { seconds: (Math.max(0, ms) / 1000).toFixed(2) });
}

export function swingLabel(swing) {
  if (swing.label) return swing.label;
  const parts = [swing.club, cameraLabel(swing.camera_angle)].filter(Boolean);
  return parts.length ? parts.join(" · ") : swing.swing_id;
}

export function cameraLabel(angle) {
  if (angle === "face_on") return t("Face-on");
  if (angle === "down_the_line") return t("Down-the-line");
  return "";
}

// "address" / "top_of_backswing" → "Address" / "Top of backswing", translated when known.
export function keyFrameLabel(name) {
  const words = String(name).replace(/_/g, " ");
  return t(words.charAt(0).toUpperCase() + words.slice(1));
}
