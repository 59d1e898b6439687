// The scrub bar: a range over the whole lesson (dragging it, or its arrow keys, moves the
// replay's clock), a track under it with a tick per moment (cards, checkpoints, drawings,
// swings; a click jumps there), and the same moments as a list of buttons for the
// keyboard and screen readers.
import { el } from "../realtime.js";
import { formatElapsed, formatTime, tf } from "../i18n.js";
import { annotationText, cardText, checkpointText, swingText } from "../room/entries.js";

const KIND_NAMES = () => ({
  card: gettext("Card"), checkpoint: gettext("Checkpoint"), drawing: gettext("Drawing"), swing: gettext("Swing"),
});

// What a moment is, in words.
function markerText(marker, swingOf) {
  if (marker.kind === "card") return cardText(marker.payload, swingOf);
  if (marker.kind === "checkpoint") return checkpointText(marker.payload);
  if (marker.kind === "swing") return swingText(marker.payload);
  if (marker.event) return annotationText(marker.payload, swingOf); // a saved drawing
  return annotationText({ coach: marker.by, swing_id: marker.swing_id }, swingOf); // drawn live
}

export class ScrubBar {
  constructor({ recording, clock, input, track, list, count, swingOf }) {
    Object.assign(this, { recording, clock, input, track, list });
    this.markers = recording.markers();
    this.spoken = "";
    input.min = "0";
    input.max = String(recording.durationMs);
    input.step = "any";
    input.addEventListener("input", () => clock.seek(recording.startMs + Number(input.value)));
    const kinds = KIND_NAMES();
    const span = recording.durationMs || 1;
    track.replaceChildren(...this.markers.map((marker) => el("span", {
      className: `replay-tick tick-${marker.kind}`,
      dataset: { kind: marker.kind, at: String(marker.at_ms) },
      attrs: { style: `left: ${(100 * (marker.at_ms - recording.startMs)) / span}%`, title: markerText(marker, swingOf) },
      on: { click: () => clock.seek(marker.at_ms) },
    })));
    list.replaceChildren(...this.markers.map((marker) => el("li", {},
      el("button", {
        type: "button", className: `replay-moment moment-${marker.kind}`,
        dataset: { kind: marker.kind, at: String(marker.at_ms) },
        on: { click: () => clock.seek(marker.at_ms) },
      },
      el("span", { className: "moment-time", text: formatElapsed(marker.at_ms - recording.startMs) }),
      el("span", { className: `moment-kind kind-${marker.kind}`, text: kinds[marker.kind] }),
      el("span", { className: "moment-text", text: markerText(marker, swingOf) }),
      el("time", { className: "muted moment-clock", text: formatTime(marker.at_ms) })))));
    count.textContent = String(this.markers.length);
    clock.on("tick", (t) => this.render(t));
    this.render(clock.t);
  }

  // The moment before or after the clock's (the keyboard's previous/next moment).
  neighbour(direction) {
    const t = this.clock.t;
    if (direction > 0) return this.markers.find((m) => m.at_ms > t + 1) || null;
    // Just past a moment, "previous" goes to the one before it (as a player's ⏮ does).
    return [...this.markers].reverse().find((m) => m.at_ms < t - 1000) || null;
  }

  render(t) {
    const offset = t - this.recording.startMs;
    this.input.value = String(offset);
    const text = tf(gettext("%(elapsed)s of %(total)s (%(time)s)"), {
      elapsed: formatElapsed(offset), total: formatElapsed(this.recording.durationMs), time: formatTime(t),
    });
    if (text !== this.spoken) {
      this.spoken = text;
      this.input.setAttribute("aria-valuetext", text);
    }
    for (const button of this.list.querySelectorAll("button")) {
      const passed = Number(button.dataset.at) <= t;
      if (button.classList.contains("passed") !== passed) button.classList.toggle("passed", passed);
    }
  }
}
