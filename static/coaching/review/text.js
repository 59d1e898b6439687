// Strings through Django's JavaScript catalog (global gettext / ngettext / interpolate)
// when the page loads it; the English source text otherwise. Call sites use the names
// `gettext` / `ngettext` with literal strings, so `makemessages -d djangojs` finds them.

export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof window.ngettext === "function") return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// A translated template with its %(name)s placeholders filled from `params`.
export function fill(template, params) {
  if (typeof window.interpolate === "function") return window.interpolate(template, params, true);
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(params[key] ?? ""));
}

// 1234 ms → "1.23 s"
export function formatSeconds(ms) {
  return fill(gettext("%(seconds)s s"), { seconds: (Math.max(0, ms) / 1000).toFixed(2) });
}

export function swingLabel(swing) {
  if (swing.label) return swing.label;
  const parts = [swing.club, cameraLabel(swing.camera_angle)].filter(Boolean);
  return parts.length ? parts.join(" · ") : swing.swing_id;
}

export function cameraLabel(angle) {
  if (angle === "face_on") return gettext("Face-on");
  if (angle === "down_the_line") return gettext("Down-the-line");
  return "";
}

// A key position's chip: the usual names translated, others as "Top of backswing".
export function keyFrameLabel(name) {
  const known = {
    address: gettext("Address"),
    takeaway: gettext("Takeaway"),
    top: gettext("Top"),
    transition: gettext("Transition"),
    downswing: gettext("Downswing"),
    impact: gettext("Impact"),
    follow_through: gettext("Follow-through"),
    finish: gettext("Finish"),
  }[name];
  if (known) return known;
  const words = String(name).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
