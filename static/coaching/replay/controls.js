// The replay's controls and keyboard: play/pause, ×1/×2/×4, skipping quiet stretches,
// the clock (how far in, and the time of day then, in TIME_ZONE), and what a skip did
// (a live region). Keys, anywhere on the page but a place to type or a button's own:
//   Space (or K) play/pause · ← → 5 s back/forward · [ ] the previous/next moment ·
//   Home/End the start/end · 1 2 4 the speed · S skip quiet stretches on/off
import { formatDuration, formatElapsed, formatTime, tf } from "../i18n.js";

const STEP_MS = 5000;
const TYPING = /^(INPUT|TEXTAREA|SELECT)$/;

export class Controls {
  constructor({ recording, clock, scrub, ui }) {
    Object.assign(this, { recording, clock, scrub, ui });
    ui.play.addEventListener("click", () => clock.toggle());
    for (const button of ui.speeds) button.addEventListener("click", () => clock.setSpeed(Number(button.dataset.speed)));
    ui.skip.addEventListener("click", () => clock.setSkipQuiet(!clock.skipQuiet));
    clock.on("change", () => this.render());
    clock.on("tick", (t) => this.renderTime(t));
    clock.on("skip", (from, to) => {
      ui.status.textContent = tf(gettext("Skipped %(time)s with nothing happening."), { time: formatDuration(to - from) });
    });
    document.addEventListener("keydown", (event) => this.key(event));
    ui.total.textContent = formatElapsed(recording.durationMs);
    this.render();
    this.renderTime(clock.t);
  }

  key(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const onScrub = target === this.scrub.input;
    if (TYPING.test(target.tagName) && !onScrub) return;
    // A box that scrolls (the timeline, the moments) keeps its own arrows, Space, Home and End.
    const scrolls = Boolean(target.closest && target.closest("[data-keys=own]"));
    const onControl = ["BUTTON", "SUMMARY", "A"].includes(target.tagName);
    const { clock } = this;
    let done = true;
    if (event.code === "KeyK" || (event.key === " " && !onControl && !scrolls)) clock.toggle();
    else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && !scrolls) {
      clock.seek(clock.t + (event.key === "ArrowLeft" ? -STEP_MS : STEP_MS));
    } else if (event.key === "[" || event.key === "]") {
      const marker = this.scrub.neighbour(event.key === "]" ? 1 : -1);
      if (marker) clock.seek(marker.at_ms);
    } else if (event.key === "Home" && !scrolls) clock.seek(this.recording.startMs);
    else if (event.key === "End" && !scrolls) clock.seek(this.recording.endMs);
    else if (["1", "2", "4"].includes(event.key)) clock.setSpeed(Number(event.key));
    else if (event.code === "KeyS") clock.setSkipQuiet(!clock.skipQuiet);
    else done = false;
    if (done) event.preventDefault();
  }

  render() {
    const { ui, clock } = this;
    const label = clock.playing ? gettext("Pause the replay") : gettext("Play the replay");
    ui.play.setAttribute("aria-label", label);
    ui.play.title = `${label} (${gettext("Space")})`;
    ui.play.dataset.playing = String(clock.playing);
    for (const button of ui.speeds) button.setAttribute("aria-pressed", String(Number(button.dataset.speed) === clock.speed));
    ui.skip.setAttribute("aria-pressed", String(clock.skipQuiet));
  }

  renderTime(t) {
    const elapsed = formatElapsed(t - this.recording.startMs);
    if (this.ui.elapsed.textContent !== elapsed) this.ui.elapsed.textContent = elapsed;
    const wall = formatTime(t);
    if (this.ui.wall.textContent !== wall) this.ui.wall.textContent = wall;
  }
}
