// The recorded lesson (the replay document, docs/api.md `GET /api/sessions/{id}/replay/`),
// read at any moment `t` of the replay (server epoch ms): the review state then, where
// the main swing's video was, the strokes on it, how many logged events had happened,
// the moments worth a marker, and the quiet stretches a viewer may skip.
import { isEmptyShape } from "../review/geometry.js";
import { livePosition } from "../review/sync.js";

export const QUIET_MS = 5000; // nothing happening for longer than this is a quiet stretch
export const QUIET_LEAD_MS = 1000; // a skip lands this long before the next thing happens
const DRAWING_GAP_MS = 3000; // strokes on one swing closer together than this: one drawing (one marker)

// The index of the last item whose at_ms is at or before `t` (−1: none).
function lastAtOrBefore(items, t) {
  let low = 0;
  let high = items.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (items[mid].at_ms <= t) { found = mid; low = mid + 1; } else high = mid - 1;
  }
  return found;
}

export class Recording {
  constructor(doc) {
    this.session = doc.session;
    this.startMs = doc.start_ms;
    this.endMs = Math.max(doc.end_ms, doc.start_ms);
    this.swings = doc.swings || [];
    this.events = doc.events || [];
    this.review = doc.review || [];
    this.states = this.review.filter((entry) => entry.kind === "state");
    const first = this.swings[0];
    // Until the first recorded change: the first swing, paused at its start (docs/protocol.md).
    this.initial = { swing_id: first ? first.swing_id : null, playing: false, position_ms: 0, rate: 1, server_ts: this.startMs };
    this.quiet = this.quietStretches();
  }

  get durationMs() {
    return this.endMs - this.startMs;
  }

  swingDuration(swingId) {
    const swing = this.swings.find((s) => s.swing_id === swingId);
    return (swing && swing.duration_ms) || null;
  }

  // The review state at `t`: the last recorded one at or before it.
  stateAt(t) {
    const i = lastAtOrBefore(this.states, t);
    return i < 0 ? this.initial : this.states[i].state;
  }

  // Where the main swing's video was at `t` (ms into the swing), within `durationMs` if known.
  positionAt(t, durationMs = null) {
    const state = this.stateAt(t);
    const position = Math.max(0, livePosition(state, t));
    const duration = durationMs || this.swingDuration(state.swing_id);
    return duration ? Math.min(position, duration) : position;
  }

  // How many review entries had happened by `t` (the drawing changes only when this does).
  reviewCount(t) {
    return lastAtOrBefore(this.review, t) + 1;
  }

  // The finished strokes on the main swing at `t`. As in the room: a clear wipes them, and
  // so does another swing, or the video starting to play (a drawing is on a paused frame).
  shapesAt(t) {
    let shapes = [];
    let previous = this.initial;
    const count = this.reviewCount(t);
    for (let i = 0; i < count; i += 1) {
      const entry = this.review[i];
      if (entry.kind === "state") {
        const state = entry.state;
        if (state.swing_id !== previous.swing_id || (state.playing && !previous.playing)) shapes = [];
        previous = state;
      } else if (entry.kind === "clear") {
        shapes = shapes.filter((s) => s.swingId !== entry.swing_id);
      } else if (entry.kind === "stroke" && entry.stroke && entry.stroke.shape && !isEmptyShape(entry.stroke.shape)) {
        shapes.push({ swingId: entry.swing_id, shape: entry.stroke.shape });
      }
    }
    return shapes.filter((s) => s.swingId === previous.swing_id).map((s) => s.shape);
  }

  // How many logged events had happened by `t` (they are in seq order, so in time order).
  eventCount(t) {
    return lastAtOrBefore(this.events, t) + 1;
  }

  // The moments a viewer jumps to: cards, checkpoints, drawings (saved, or drawn live:
  // strokes close together count once) and swings. [{at_ms, kind, event?, payload?}]
  markers() {
    const kinds = { "ai:feedback": "card", "checkpoint:added": "checkpoint", "annotation:added": "drawing", "swing:added": "swing" };
    const found = this.events.filter((e) => kinds[e.event])
      .map((e) => ({ at_ms: e.at_ms, kind: kinds[e.event], event: e.event, payload: e.payload }));
    let last = null;
    for (const entry of this.review) {
      if (entry.kind !== "stroke" || !entry.stroke || !entry.stroke.shape || isEmptyShape(entry.stroke.shape)) continue;
      if (!last || entry.at_ms - last.at_ms > DRAWING_GAP_MS || entry.swing_id !== last.swing_id) {
        found.push({ at_ms: entry.at_ms, kind: "drawing", by: entry.stroke.by, swing_id: entry.swing_id });
      }
      last = entry;
    }
    // A swing shared while the lesson waited is there from its start.
    return found.map((m) => ({ ...m, at_ms: Math.min(Math.max(m.at_ms, this.startMs), this.endMs) }))
      .sort((a, b) => a.at_ms - b.at_ms);
  }

  // The stretches with nothing logged, recorded or playing for longer than QUIET_MS, as
  // [from, to): skipping one goes from `from` straight to `to` (QUIET_LEAD_MS before the
  // next thing happens).
  quietStretches() {
    const busy = []; // [from, to]
    for (const e of this.events) busy.push([e.at_ms, e.at_ms]);
    for (const entry of this.review) busy.push([entry.at_ms, entry.at_ms]);
    this.states.forEach((entry, i) => {
      const state = entry.state;
      if (!state.playing) return;
      const next = this.states[i + 1];
      let until = next ? next.at_ms : this.endMs;
      const duration = this.swingDuration(state.swing_id);
      if (duration && state.rate > 0) {
        until = Math.min(until, entry.at_ms + Math.max(0, duration - state.position_ms) / state.rate);
      }
      busy.push([entry.at_ms, until]);
    });
    busy.sort((a, b) => a[0] - b[0]);
    const quiet = [];
    let edge = this.startMs;
    const gap = (from, to) => {
      if (to - from > QUIET_MS) quiet.push([from + QUIET_LEAD_MS, to - QUIET_LEAD_MS]);
    };
    for (const [from, to] of busy) {
      if (from > edge) gap(edge, from);
      edge = Math.max(edge, to);
    }
    if (this.endMs > edge) gap(edge, this.endMs + QUIET_LEAD_MS); // the end itself needs no lead
    return quiet;
  }

  // The quiet stretch `t` is in, if any.
  quietAt(t) {
    return this.quiet.find(([from, to]) => t >= from && t < to) || null;
  }
}
