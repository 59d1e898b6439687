// A feedback card's metrics as a golfer reads them, from the catalog (coaching/metrics.py,
// in the page as `metric-catalog` JSON): labels, units in the reader's language (head and
// ball speed in m/s on a Korean page, mph on request; distances in m or yd), precision,
// typical range, which way is better, and for signed metrics the direction in words
// ("5.2° 열림"). Keys the catalog does not know are labelled from its golf glossary, else
// neutrally ("기타 지표"), their unit suffix read as their unit. `keyMetrics` picks what
// matters most for a swing: the metrics out of range on the wrong side, furthest first.
import { el } from "../realtime.js";
import { formatNumber, lang, tf } from "../i18n.js";

const LANG = String(lang).toLowerCase().startsWith("ko") ? "ko" : "en";
const SPEED_KEY = "inswing:speed-unit";

function readCatalog() {
  const node = document.getElementById("metric-catalog");
  let raw = null;
  try {
    raw = node ? JSON.parse(node.textContent) : null;
  } catch (err) {
    raw = null;
  }
  return raw && typeof raw === "object" && !Array.isArray(raw) ? raw : { metrics: raw || [] };
}

const raw = readCatalog();
export const catalog = new Map((raw.metrics || []).filter((m) => m && m.key).map((m) => [m.key, m]));
const steps = new Map((raw.steps || []).map((s) => [s.key, s.label]));
const terms = raw.terms || {};
const suffixes = raw.unit_suffixes || {};
const units = raw.units || {};
const readsIn = (raw.reads_in || {})[LANG] || {};
export const speedUnits = raw.speed_units || [];

const pick = (label) => (label && typeof label === "object" ? label[LANG] || label.en || label.ko : label);

// How an analysis step reads ("pose_detection" → "자세 인식"); unknown ones neutrally.
export function stepName(step) {
  return pick(steps.get(step)) || pick(raw.unknown_step) || gettext("analysing");
}

// ---- units ---------------------------------------------------------------------------------

// The speed unit the reader asked for, else the one their language reads speeds in.
export function speedUnit() {
  let chosen = null;
  try {
    chosen = localStorage.getItem(SPEED_KEY);
  } catch (err) {
    chosen = null;
  }
  return speedUnits.includes(chosen) ? chosen : readsIn.speed || "mph";
}

export function setSpeedUnit(unit) {
  try {
    localStorage.setItem(SPEED_KEY, unit);
  } catch (err) {
    // kept for this page only
  }
}

// The unit a value that came in `unit` is shown in.
function shownUnit(unit) {
  const known = units[unit];
  if (!known) return unit;
  return known[0] === "speed" ? speedUnit() : readsIn[known[0]] || unit;
}

function convert(value, from, to) {
  if (from === to || !units[from] || !units[to]) return value;
  return (value * units[from][1]) / units[to][1];
}

function withUnit(text, unit) {
  if (!unit) return text;
  return /^[°%:′″]/.test(unit) ? `${text}${unit}` : `${text} ${unit}`;
}

// Up to 2 decimals for small numbers, fewer for large ones, no trailing zeros.
function autoDigits(value) {
  const abs = Math.abs(value);
  return abs >= 100 ? 0 : (abs >= 10 ? 1 : 2);
}

// ---- labels --------------------------------------------------------------------------------

// An unknown key's words and the unit its last word names: "hand_speed_mph" → hand, speed; mph.
function keyWords(key) {
  const words = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase()
    .split(/[\s_.-]+/).filter(Boolean);
  if (words.length > 1 && suffixes[words[words.length - 1]]) {
    return { words: words.slice(0, -1), unit: suffixes[words[words.length - 1]] };
  }
  return { words, unit: "" };
}

export function humanize(key) {
  const words = keyWords(key).words.join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// {text, neutral}: the catalog's label; else Korean from the glossary or the neutral one.
function labelOf(key, entry) {
  if (entry) return { text: pick(entry.label) || humanize(key), neutral: false };
  if (LANG !== "ko") return { text: humanize(key) || String(key), neutral: false };
  const korean = keyWords(key).words.map((w) => (/^\d+$/.test(w) ? w : terms[w]));
  if (korean.length && korean.every(Boolean)) return { text: korean.join(" "), neutral: false };
  return { text: pick(raw.unknown_metric) || gettext("Other metric"), neutral: true };
}

export function metricLabel(key) {
  return labelOf(key, catalog.get(key)).text;
}

// ---- values --------------------------------------------------------------------------------

function directionWord(entry, value) {
  if (!entry || !entry.direction || !value) return "";
  return pick(value > 0 ? entry.direction.positive : entry.direction.negative) || "";
}

// A value as read: number in the reader's unit, a signed metric's size and direction.
export function formatValue(value, entry, key = "") {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? gettext("Yes") : gettext("No");
  if (Array.isArray(value)) return value.map((v) => formatValue(v, entry, key)).join(", ");
  if (typeof value !== "number") return String(value);
  const unit = entry ? entry.unit : keyWords(key).unit;
  const shown = shownUnit(unit);
  let number = convert(value, unit, shown);
  // A signed metric: its size and the side in words; none for a value that reads as zero.
  const word = directionWord(entry, entry && Number.isInteger(entry.precision) ? Number(number.toFixed(entry.precision)) : number);
  if (entry && entry.direction) number = Math.abs(number);
  let text;
  if (entry && Number.isInteger(entry.precision)) text = formatNumber(number, entry.precision);
  else {
    const digits = Number.isInteger(number) ? 0 : autoDigits(number);
    text = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(number);
  }
  text = withUnit(text, shown);
  return word ? `${text} ${word}` : text;
}

const BETTER = () => ({
  higher: gettext("higher is better"),
  lower: gettext("lower is better"),
  closer_to_range: gettext("best inside the range"),
});

// The typical range in the reader's unit: "±2.0°", "38.0 – 51.4 m/s".
function rangeText(entry) {
  const [low, high] = entry.range;
  const unit = shownUnit(entry.unit);
  const digits = Number.isInteger(entry.precision) ? entry.precision : 2;
  const lo = convert(low, entry.unit, unit);
  const hi = convert(high, entry.unit, unit);
  if (lo === -hi) return tf(gettext("typical ±%(value)s"), { value: withUnit(formatNumber(hi, digits), unit) });
  return tf(gettext("typical %(low)s – %(high)s"), {
    low: formatNumber(lo, digits), high: withUnit(formatNumber(hi, digits), unit),
  });
}

// How a value stands against its typical range: {verdict, concern, distance, text, range}.
// `distance`: how far outside, in range widths (0 inside); `concern`: outside on the side
// that is worse (below for higher-is-better, above for lower-is-better, either otherwise).
export function assess(value, entry) {
  if (!entry || typeof value !== "number" || !Array.isArray(entry.range) || entry.range.length !== 2) {
    return null;
  }
  const [low, high] = entry.range;
  const width = high - low || 1;
  const verdict = value < low ? "below" : (value > high ? "above" : "within");
  const distance = verdict === "below" ? (low - value) / width : (verdict === "above" ? (value - high) / width : 0);
  const concern = (verdict === "below" && entry.better !== "lower") || (verdict === "above" && entry.better !== "higher");
  let text = gettext("in range");
  if (verdict !== "within") {
    if (entry.direction) text = gettext("outside the range");
    else text = verdict === "below" ? gettext("below range") : gettext("above range");
  }
  return { verdict, concern, distance, text, range: rangeText(entry) };
}

// Catalog order first, then unknown keys alphabetically.
export function orderedKeys(metrics) {
  const keys = Object.keys(metrics || {});
  const known = [...catalog.keys()].filter((k) => keys.includes(k));
  const unknown = keys.filter((k) => !catalog.has(k)).sort();
  return [...known, ...unknown];
}

// Up to `count` top-level metrics out of range on the worse side, furthest out first.
export function keyMetrics(metrics, count = 3) {
  return orderedKeys(metrics)
    .map((key) => ({ key, value: metrics[key], entry: catalog.get(key) }))
    .map((m) => ({ ...m, note: assess(m.value, m.entry) }))
    .filter((m) => m.note && m.note.concern)
    .sort((a, b) => b.note.distance - a.note.distance)
    .slice(0, count);
}

function verdictChip(note) {
  const kind = note.verdict === "within" ? "within" : (note.concern ? "concern" : "good");
  return el("span", { className: `metric-verdict verdict-${note.verdict} verdict-${kind}`, text: note.text });
}

// The metrics that matter most for this swing, as a short list.
export function keyMetricList(metrics) {
  const picked = keyMetrics(metrics);
  if (!picked.length) return null;
  return el("ul", { className: "key-metrics" }, picked.map(({ key, value, entry, note }) => el("li", {
    className: "key-metric", dataset: { metric: key },
  },
  el("span", { className: "key-metric-label", text: metricLabel(key) }),
  el("span", { className: "metric-value", text: formatValue(value, entry, key) }),
  el("span", { className: "key-metric-note" }, verdictChip(note), el("span", { className: "metric-range", text: note.range })))));
}

function metricRows(key, value, depth, prefix) {
  const fullKey = prefix ? `${prefix}.${key}` : key;
  const entry = catalog.get(fullKey) || (depth === 0 ? catalog.get(key) : null);
  const label = labelOf(key, entry);
  const name = el("th", { scope: "row", text: label.text, dataset: label.neutral ? { neutral: "1" } : {} });
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const head = el("tr", { className: `metric-group depth-${depth}` }, name, el("td", { text: "" }));
    const children = orderedKeys(value).flatMap((k) => metricRows(k, value[k], depth + 1, fullKey));
    return [head, ...children];
  }
  const note = assess(value, entry);
  const parts = [
    note ? note.range : null,
    entry && entry.better && note ? BETTER()[entry.better] : null,
  ].filter(Boolean);
  const cell = el("td", {},
    el("span", { className: "metric-value", text: formatValue(value, entry, key) }),
    note ? verdictChip(note) : null,
    parts.length ? el("span", { className: "metric-range", text: parts.join(" · ") }) : null);
  return [el("tr", { className: `metric depth-${depth}`, dataset: { metric: fullKey } }, name, cell)];
}

export function metricsTable(metrics) {
  const keys = orderedKeys(metrics);
  if (!keys.length) return null;
  const rows = keys.flatMap((key) => metricRows(key, metrics[key], 0, ""));
  // More than one metric under the neutral label: numbered, so a coach can tell them apart.
  const neutral = rows.map((row) => row.querySelector("th[data-neutral]")).filter(Boolean);
  if (neutral.length > 1) neutral.forEach((th, i) => { th.textContent = `${th.textContent} ${i + 1}`; });
  return el("table", { className: "metrics" },
    el("caption", { className: "visually-hidden", text: gettext("Swing metrics") }),
    el("tbody", {}, rows));
}
