// The viewer's language: strings from Django's JavaScript catalog (loaded by base.html
// as the globals gettext/ngettext/interpolate; `tf` fills their %(name)s placeholders),
// dates and durations through Intl in the page's language and the site's time zone
// (TIME_ZONE, on <html data-time-zone>), and the names of statuses, steps, roles and swings.
/* global gettext, ngettext, interpolate */

export const lang = document.documentElement.lang || "ko";
const timeZone = document.documentElement.dataset.timeZone || undefined;

// `fmt` has %(name)s placeholders, already translated (gettext).
export function tf(fmt, params) {
  if (typeof interpolate === "function") return interpolate(fmt, params, true);
  return fmt.replace(/%\((\w+)\)s/g, (_, key) => String(params[key] ?? ""));
}

const options = (extra) => ({ ...extra, ...(timeZone ? { timeZone } : {}) });
const timeFormat = new Intl.DateTimeFormat(lang, options({ hour: "numeric", minute: "2-digit" }));
const dateTimeFormat = new Intl.DateTimeFormat(lang, options({
  month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
}));

export function formatTime(ms) {
  return ms ? timeFormat.format(new Date(ms)) : "";
}

export function formatDateTime(ms) {
  return ms ? dateTimeFormat.format(new Date(ms)) : "";
}

export function formatNumber(value, digits) {
  return new Intl.NumberFormat(lang, {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(value);
}

// 40 → "40%"
export function formatPercent(value) {
  return new Intl.NumberFormat(lang, { style: "percent" }).format(value / 100);
}

function unit(unitName, value) {
  return new Intl.NumberFormat(lang, { style: "unit", unit: unitName, unitDisplay: "short" })
    .format(value);
}

// "1시간 5분" / "1 hr 5 min"; under a minute, seconds.
export function formatDuration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return unit("second", seconds);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return unit("minute", minutes);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${unit("hour", hours)} ${unit("minute", rest)}` : unit("hour", hours);
}

// "12분 34초" / "12 min, 34 sec": a recording's length, to the second.
export function formatMinutesSeconds(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  if (!minutes) return unit("second", seconds);
  return `${unit("minute", minutes)} ${unit("second", seconds % 60)}`;
}

// 65000 → "1:05", 3723000 → "1:02:03": how far into a lesson (the replay's clock).
export function formatElapsed(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

// 1234 ms → "1.23 s" (a position in a swing's video).
export function formatSeconds(ms) {
  return tf(gettext("%(seconds)s s"), { seconds: (Math.max(0, ms) / 1000).toFixed(2) });
}

// "3분째 대기 중" / "Waiting for 3 min".
export function waitingFor(sinceMs, nowMs) {
  return tf(gettext("Waiting for %(time)s"), { time: formatDuration(nowMs - sinceMs) });
}

const STATUS = () => ({
  waiting: gettext("Waiting"), active: gettext("In lesson"), paused: gettext("Paused"), ended: gettext("Ended"),
});
const STEP = () => ({ upload: gettext("Upload"), analysis: gettext("Analysis"), feedback: gettext("Feedback") });
const ROLE = () => ({
  coach: gettext("coach"), student: gettext("student"), admin: gettext("admin"), service: gettext("service"),
  observer: gettext("observer"), preview: gettext("preview"),
});

export const statusLabel = (status) => STATUS()[status] || status || "";
export const stepLabel = (step) => STEP()[step] || step || "";
export const roleLabel = (role) => ROLE()[role] || role || "";

const CAMERA = () => ({ face_on: gettext("Face-on"), down_the_line: gettext("Down-the-line") });
const CLUBS = () => ({
  driver: gettext("Driver"), wood: gettext("Wood"), hybrid: gettext("Hybrid"), iron: gettext("Iron"),
  wedge: gettext("Wedge"), putter: gettext("Putter"), pw: gettext("Pitching wedge"), gw: gettext("Gap wedge"),
  aw: gettext("Approach wedge"), sw: gettext("Sand wedge"), lw: gettext("Lob wedge"),
});
const NUMBERED_CLUBS = () => ({ w: gettext("%(number)s-wood"), h: gettext("%(number)s-hybrid"), i: gettext("%(number)s-iron") });

// A club as the Node API names it ("driver", "3w", "7i", "7-iron", "pw") in the reader's
// words ("드라이버", "3번 우드", "7번 아이언", "피칭 웨지"); others as they came.
export function clubName(club) {
  const key = String(club || "").trim().toLowerCase().replace(/[\s_-]+/g, "");
  if (CLUBS()[key]) return CLUBS()[key];
  const numbered = key.match(/^(\d{1,2})(w|wood|h|hybrid|i|iron)$/);
  return numbered ? tf(NUMBERED_CLUBS()[numbered[2][0]], { number: numbered[1] }) : club;
}

// How a swing is named everywhere (timeline, cards, recap, review): its own label; else
// what it is and when, as far as known: club (`clubName`), camera angle and the time it
// was recorded (else `atMs`, e.g. when it was analysed): "Driver · Face-on · 10:02 AM", or
// "Swing at 10:02 AM" with only a time, else "Swing". Never its id.
export function swingName(swing, atMs) {
  if (swing && swing.label) return swing.label;
  const when = (swing && swing.recorded_at) || atMs;
  const what = swing ? [swing.club && clubName(swing.club), CAMERA()[swing.camera_angle]].filter(Boolean) : [];
  if (what.length) return [...what, formatTime(when)].filter(Boolean).join(" · ");
  return when ? tf(gettext("Swing at %(time)s"), { time: formatTime(when) }) : gettext("Swing");
}
