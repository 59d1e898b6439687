// A student's progress across lessons: one metric of the catalog at a time (those their
// swings have values for, GET /api/students/{id}/metrics/), every swing's value and each
// lesson's average over time (GET …/progress/?metric=), the typical range shaded and
// which way is better said above the chart. Drawn with uPlot (npm, served as is);
// every value is in a table below it too. Values in the reader's units (a Korean page
// reads speeds in m/s, distances in metres), times in TIME_ZONE.
import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { apiFetch, el } from "../realtime.js";
import { formatDateTime, formatNumber, lang, tf } from "../i18n.js";

const LANG = String(lang).toLowerCase().startsWith("ko") ? "ko" : "en";
const TIME_ZONE = document.documentElement.dataset.timeZone || undefined;
const PHONE = window.matchMedia("(max-width: 760px)");
const COLORS = { swing: "#2563a6", lesson: "#1f7a4d", range: "rgba(31, 122, 77, 0.13)", axis: "#55615a", grid: "#e4e9e6" };

function readCatalog() {
  const node = document.getElementById("metric-catalog");
  const raw = node ? JSON.parse(node.textContent) : {};
  return Array.isArray(raw) ? { metrics: raw } : raw;
}
const CATALOG = readCatalog();
const METRICS = new Map((CATALOG.metrics || []).filter((m) => !m.alias_of).map((m) => [m.key, m]));
const pick = (label) => (label && typeof label === "object" ? label[LANG] || label.en : label) || "";

// The unit a value in `unit` is read in on this page, and the factor to it.
function readUnit(unit) {
  const sizes = CATALOG.units || {};
  const known = sizes[unit];
  const wanted = known && ((CATALOG.reads_in || {})[LANG] || {})[known[0]];
  if (!known || !wanted || !sizes[wanted]) return { unit, factor: 1 };
  return { unit: wanted, factor: known[1] / sizes[wanted][1] };
}

function withUnit(text, unit) {
  if (!unit) return text;
  return /^[°%:]/.test(unit) ? `${text}${unit}` : `${text} ${unit}`;
}

const BETTER = () => ({
  higher: ["↑", gettext("Higher is better")],
  lower: ["↓", gettext("Lower is better")],
  closer_to_range: ["↕", gettext("Best inside the typical range")],
});

const dayFormat = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", ...(TIME_ZONE ? { timeZone: TIME_ZONE } : {}) });

export class ProgressChart {
  constructor(root) {
    this.root = root;
    this.select = root.querySelector("#metric-select");
    this.title = root.querySelector("#progress-title");
    this.about = root.querySelector("#progress-about");
    this.status = root.querySelector("#progress-status");
    this.figure = root.querySelector("#progress-figure");
    this.chart = root.querySelector("#progress-chart");
    this.summary = root.querySelector("#progress-summary");
    this.values = root.querySelector("#progress-values");
    this.rows = root.querySelector("#progress-table tbody");
    this.student = null;
    this.plot = null;
    this.generation = 0;
    this.select.addEventListener("change", () => this.load());
    new ResizeObserver(() => this.resize()).observe(this.chart);
    PHONE.addEventListener("change", () => this.resize());
  }

  // Shows `student`'s progress ({id, name}), or hides the section for none.
  async show(student) {
    if ((student && student.id) === (this.student && this.student.id)) return;
    this.student = student;
    this.root.hidden = !student;
    if (!student) return;
    const generation = ++this.generation;
    this.title.textContent = this.isOwn() ? gettext("My progress") : tf(gettext("Progress of %(name)s"), { name: student.name });
    this.setStatus(gettext("Loading…"));
    let found;
    try {
      found = await apiFetch("GET", `/api/students/${encodeURIComponent(student.id)}/metrics/`);
    } catch (err) {
      if (generation === this.generation) this.setStatus(tf(gettext("The progress could not be loaded: %(error)s"), { error: err.message }));
      return;
    }
    if (generation !== this.generation) return;
    const metrics = found.metrics.filter((m) => METRICS.has(m.metric));
    const previous = this.select.value;
    this.select.replaceChildren(...metrics.map((m) => el("option", {
      value: m.metric, text: `${pick(METRICS.get(m.metric).label)} (${m.count})`,
    })));
    this.select.disabled = !metrics.length;
    if (!metrics.length) {
      this.clear();
      this.setStatus(gettext("No analysed swings yet: the chart fills in as the AI analyses swings in lessons."));
      return;
    }
    if (metrics.some((m) => m.metric === previous)) this.select.value = previous;
    await this.load();
  }

  isOwn() {
    const data = JSON.parse(document.getElementById("library-data").textContent);
    return data.you && this.student && String(data.you.id) === String(this.student.id);
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  clear() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.figure.hidden = true;
    this.values.hidden = true;
    this.about.textContent = "";
  }

  async load() {
    const key = this.select.value;
    const entry = METRICS.get(key);
    if (!key || !entry) return;
    const generation = ++this.generation;
    let progress;
    try {
      progress = await apiFetch("GET", `/api/students/${encodeURIComponent(this.student.id)}/progress/?metric=${encodeURIComponent(key)}`);
    } catch (err) {
      if (generation === this.generation) this.setStatus(tf(gettext("The progress could not be loaded: %(error)s"), { error: err.message }));
      return;
    }
    if (generation !== this.generation) return;
    this.setStatus("");
    this.draw(entry, progress);
  }

  draw(entry, progress) {
    const { unit, factor } = readUnit(progress.unit);
    const digits = Number.isInteger(entry.precision) ? entry.precision : 2;
    const shown = (value) => withUnit(formatNumber(value, digits), unit);
    const points = progress.points.map((p) => ({ ...p, shown: p.value * factor }));
    const range = Array.isArray(entry.range) ? entry.range.map((v) => v * factor) : null;
    this.clear();

    const [arrow, better] = BETTER()[entry.better] || ["", ""];
    const typical = range ? tf(gettext("Typical range %(low)s – %(high)s"), { low: formatNumber(range[0], digits), high: shown(range[1]) }) : "";
    this.about.replaceChildren(
      el("span", { className: `better better-${entry.better}` }, el("span", { className: "better-arrow", text: arrow, attrs: { "aria-hidden": "true" } }), ` ${better}`),
      typical ? el("span", { className: "typical" }, el("span", { className: "typical-swatch", attrs: { "aria-hidden": "true" } }), ` ${typical}`) : null,
      unit ? el("span", { className: "muted", text: tf(gettext("Unit: %(unit)s"), { unit }) }) : null);

    // Each lesson's average, at the middle of its swings' times.
    const lessons = new Map();
    for (const p of points) {
      const lesson = lessons.get(p.session_id) || { sum: 0, n: 0, at: 0 };
      lesson.sum += p.shown;
      lesson.n += 1;
      lesson.at += p.at;
      lessons.set(p.session_id, lesson);
    }
    const rows = [
      ...points.map((p) => ({ x: p.at / 1000, swing: p.shown, lesson: null })),
      ...[...lessons.values()].map((l) => ({ x: l.at / l.n / 1000, swing: null, lesson: l.sum / l.n })),
    ].sort((a, b) => a.x - b.x);
    const data = [rows.map((r) => r.x), rows.map((r) => r.swing), rows.map((r) => r.lesson)];

    this.figure.hidden = false;
    this.values.hidden = false;
    const label = pick(entry.label);
    this.chart.setAttribute("aria-label", tf(gettext("%(metric)s across lessons"), { metric: label }));
    const last = points[points.length - 1];
    this.summary.textContent = tf(ngettext(
      "%(count)s swing in %(lessons)s lessons; the latest %(value)s on %(time)s.",
      "%(count)s swings in %(lessons)s lessons; the latest %(value)s on %(time)s.", points.length,
    ), { count: points.length, lessons: lessons.size, value: shown(last.shown), time: formatDateTime(last.at) });
    // Lessons numbered in the order they came (the first lesson with a value is 1).
    const number = new Map([...lessons.keys()].map((id, i) => [id, i + 1]));
    this.rows.replaceChildren(...[...points].reverse().map((p) => el("tr", {
      dataset: { sessionId: p.session_id, swingId: p.swing_id, value: String(p.value), at: String(p.at) },
    }, el("td", { text: formatDateTime(p.at) }),
    el("td", { className: "muted", text: tf(gettext("Lesson %(number)s"), { number: number.get(p.session_id) }) }),
    el("td", { text: shown(p.shown) }))));
    this.plot = new uPlot(this.options(label, shown, range, digits), data, this.chart);
    this.chart.dataset.points = String(points.length);
  }

  size() {
    const width = Math.max(240, this.chart.clientWidth || this.root.clientWidth - 32);
    return { width, height: PHONE.matches ? 230 : 300 };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  options(label, shown, range, digits) {
    const value = (u, v) => (v === null || v === undefined ? "—" : shown(v));
    const axis = { stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid } };
    return {
      ...this.size(),
      tzDate: TIME_ZONE ? (ts) => uPlot.tzDate(new Date(ts * 1000), TIME_ZONE) : undefined,
      cursor: { points: { size: 9 } },
      legend: { live: true },
      scales: {
        x: { time: true },
        // The typical range always in view, with a little room around the values.
        y: {
          range: (u, min, max) => {
            let lo = Math.min(min, range ? range[0] : min);
            let hi = Math.max(max, range ? range[1] : max);
            const pad = (hi - lo || Math.abs(hi) || 1) * 0.12;
            lo -= pad;
            hi += pad;
            return [lo, hi];
          },
        },
      },
      series: [
        { label: gettext("When"), value: (u, v) => (v === null || v === undefined ? "—" : formatDateTime(v * 1000)) },
        {
          label: gettext("Each swing"), stroke: COLORS.swing, fill: COLORS.swing, width: 0, paths: () => null,
          points: { show: true, size: PHONE.matches ? 6 : 7, fill: COLORS.swing, stroke: COLORS.swing }, value,
        },
        {
          label: gettext("Lesson average"), stroke: COLORS.lesson, width: 2, spanGaps: true,
          points: { show: true, size: 8, fill: "#fff", stroke: COLORS.lesson }, value,
        },
      ],
      axes: [
        { ...axis, values: (u, splits) => splits.map((s) => dayFormat.format(new Date(s * 1000))), space: PHONE.matches ? 60 : 80 },
        { ...axis, size: 56, values: (u, splits) => splits.map((v) => formatNumber(v, Math.max(0, digits - 1))) },
      ],
      hooks: {
        drawClear: [(u) => {
          if (!range) return;
          const { left, top, width, height } = u.bbox;
          const y1 = Math.max(top, Math.min(top + height, u.valToPos(range[1], "y", true)));
          const y2 = Math.max(top, Math.min(top + height, u.valToPos(range[0], "y", true)));
          u.ctx.save();
          u.ctx.fillStyle = COLORS.range;
          u.ctx.fillRect(left, y1, width, y2 - y1);
          u.ctx.restore();
        }],
      },
    };
  }
}
