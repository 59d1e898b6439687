// A feedback card's metrics as a coach reads them: labels, units, precision, typical
// range and which way is better from the metric catalog (coaching/metrics.py, embedded
// in the page as JSON); unknown metrics still readable; a stable order.
import { el } from "../realtime.js";
import { formatNumber, lang, tf } from "../i18n.js";

function readCatalog() {
  const node = document.getElementById("metric-catalog");
  let raw = null;
  try {
    raw = node ? JSON.parse(node.textContent) : null;
  } catch (err) {
    raw = null;
  }
  const list = Array.isArray(raw) ? raw
    : Object.entries(raw || {}).map(([key, value]) => ({ key, ...value }));
  return new Map(list.filter((m) => m && m.key).map((m) => [m.key, m]));
}

export const catalog = readCatalog();

export function humanize(key) {
  const words = String(key).replace(/[_.-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function label(key, entry) {
  if (!entry) return humanize(key);
  const value = entry.label;
  if (typeof value === "string") return value;
  if (value && typeof value === "object") return value[lang] || value.en || value.ko || humanize(key);
  return entry[`label_${lang}`] || entry.label_en || humanize(key);
}

// Up to 2 decimals for small numbers, fewer for large ones, no trailing zeros.
function autoDigits(value) {
  const abs = Math.abs(value);
  return abs >= 100 ? 0 : (abs >= 10 ? 1 : 2);
}

function withUnit(text, unit) {
  if (!unit) return text;
  return /^[°%:′″]/.test(unit) ? `${text}${unit}` : `${text} ${unit}`;
}

export function formatValue(value, entry) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? gettext("Yes") : gettext("No");
  if (typeof value === "number") {
    if (entry && Number.isInteger(entry.precision)) {
      return withUnit(formatNumber(value, entry.precision), entry.unit);
    }
    const digits = Number.isInteger(value) ? 0 : autoDigits(value);
    const text = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
    return withUnit(text, entry && entry.unit);
  }
  if (Array.isArray(value)) return value.map((v) => formatValue(v, entry)).join(", ");
  return String(value);
}

const BETTER = () => ({
  higher: gettext("higher is better"),
  lower: gettext("lower is better"),
  closer_to_range: gettext("best inside the range"),
});

function rangeNote(value, entry) {
  if (!entry) return null;
  const range = Array.isArray(entry.range) ? entry.range : null;
  const parts = [];
  let verdict = null;
  if (range && range.length === 2) {
    const [low, high] = range;
    const digits = Number.isInteger(entry.precision) ? entry.precision : 2;
    parts.push(tf(gettext("typical %(low)s – %(high)s"), {
      low: formatNumber(low, digits), high: withUnit(formatNumber(high, digits), entry.unit),
    }));
    if (typeof value === "number") verdict = value < low ? "below" : (value > high ? "above" : "within");
  }
  if (entry.better && BETTER()[entry.better]) parts.push(BETTER()[entry.better]);
  return { text: parts.join(" · "), verdict };
}

const VERDICT = () => ({
  within: gettext("in range"), below: gettext("below range"), above: gettext("above range"),
});

// Catalog order first, then unknown keys alphabetically.
export function orderedKeys(metrics) {
  const keys = Object.keys(metrics || {});
  const known = [...catalog.keys()].filter((k) => keys.includes(k));
  const unknown = keys.filter((k) => !catalog.has(k)).sort();
  return [...known, ...unknown];
}

function metricRows(key, value, depth, prefix) {
  const fullKey = prefix ? `${prefix}.${key}` : key;
  const entry = catalog.get(fullKey) || (depth === 0 ? catalog.get(key) : null);
  const name = el("th", { scope: "row", text: label(key, entry) });
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const head = el("tr", { className: `metric-group depth-${depth}` }, name, el("td", { text: "" }));
    const children = orderedKeys(value).flatMap((k) => metricRows(k, value[k], depth + 1, fullKey));
    return [head, ...children];
  }
  const note = rangeNote(value, entry);
  const cell = el("td", {},
    el("span", { className: "metric-value", text: formatValue(value, entry) }),
    note && note.verdict
      ? el("span", { className: `metric-verdict verdict-${note.verdict}`, text: VERDICT()[note.verdict] })
      : null,
    note && note.text ? el("span", { className: "metric-range", text: note.text }) : null);
  return [el("tr", { className: `metric depth-${depth}`, dataset: { metric: fullKey } }, name, cell)];
}

export function metricsTable(metrics) {
  const keys = orderedKeys(metrics);
  if (!keys.length) return null;
  return el("table", { className: "metrics" },
    el("caption", { className: "visually-hidden", text: gettext("Swing metrics") }),
    el("tbody", {}, keys.flatMap((key) => metricRows(key, metrics[key], 0, ""))));
}
