// Compare: a second swing next to the main one (side by side; stacked on a phone held
// upright). The second swing runs locked to the main one at an offset (its time minus
// the main swing's): it plays, pauses, seeks and changes speed with it. Its own frame
// buttons move it alone, which sets the offset: put the main swing on a moment (say
// impact), then step this one to the same moment.
//
// The compare is part of the shared review: the leader's (`shared()`) goes out with the
// playback, and every follower shows it (`applyShared()`). A follower who changes it
// steps out to watch alone first (`onIntent`).
import { el } from "../realtime.js";
import { formatSeconds, swingName, tf } from "../i18n.js";
import { DEFAULT_FPS } from "./player.js";

const SEEK_DRIFT_MS = 120; // further off than this: seek; closer: adjust the rate
const DEADBAND_MS = 8;
const CORRECTION_MS = 500; // remove a small drift over about half a second
const CHECK_MS = 200;

export class Compare {
  // `onIntent()`: before a change this viewer makes; `onChange()`: after it. `controls:
  // false`: only the second screen and its status (ui: screens, compareScreen,
  // compareVideo, compareLabel, compareStatus), set by `applyShared` alone (the replay).
  constructor({ ui, player, onIntent = () => {}, onChange = () => {}, controls = true }) {
    this.ui = ui;
    this.controls = controls;
    this.player = player;
    this.main = player.video;
    this.video = ui.compareVideo;
    this.video.muted = true;
    this.video.playsInline = true;
    this.onIntent = onIntent;
    this.onChange = onChange;
    this.swing = null;
    this.offsetMs = 0; // compare time - main time
    this.bind();
  }

  bind() {
    const { ui } = this;
    if (this.controls) {
      ui.compareToggle.addEventListener("click", () => this.user(() => this.setOpen(!this.open)));
      ui.compareSelect.addEventListener("change", () => this.user(() => this.load(ui.compareSelect.value)));
      ui.compareBack.addEventListener("click", () => this.user(() => this.step(-1)));
      ui.compareForward.addEventListener("click", () => this.user(() => this.step(1)));
    }
    for (const type of ["play", "pause", "seeked", "ratechange"]) {
      this.main.addEventListener(type, () => this.follow());
    }
    this.video.addEventListener("loadedmetadata", () => this.follow());
    this.video.addEventListener("seeked", () => this.renderStatus());
    setInterval(() => this.keepUp(), CHECK_MS);
  }

  user(change) {
    this.onIntent();
    change();
    this.onChange();
  }

  get open() {
    return !this.ui.compareScreen.hidden;
  }

  // What the room shares of it: null, or the second swing and its offset.
  shared() {
    if (!this.open || !this.swing) return null;
    return { swing_id: this.swing.swing_id, offset_ms: Math.round(this.offsetMs * 1000) / 1000 };
  }

  // The leader's compare (null: none), on this screen.
  applyShared(compare) {
    if (!compare) {
      if (this.open) this.setOpen(false);
      return;
    }
    if (!this.player.swings.has(compare.swing_id) || compare.swing_id === this.player.swingId) return;
    if (!this.open) this.setOpen(true, { swingId: compare.swing_id, offsetMs: compare.offset_ms });
    else if (!this.swing || this.swing.swing_id !== compare.swing_id) this.load(compare.swing_id, compare.offset_ms);
    else if (this.offsetMs !== compare.offset_ms) {
      this.offsetMs = compare.offset_ms;
      this.follow();
      this.renderStatus();
    }
  }

  // The swings that can go next to the main one.
  renderOptions() {
    const others = [...this.player.swings.values()].filter((s) => s.swing_id !== this.player.swingId);
    this.ui.compareSelect.replaceChildren(...others.map((swing) => el("option", {
      value: swing.swing_id, text: swingName(swing),
    })));
    if (this.swing && others.some((s) => s.swing_id === this.swing.swing_id)) {
      this.ui.compareSelect.value = this.swing.swing_id;
    }
    this.ui.compareTools.hidden = !others.length;
    if (this.player.swing) this.ui.mainLabel.textContent = swingName(this.player.swing);
    // The main swing is now the compared one (or there is no other): the compare ends.
    if (this.open && (!this.swing || this.swing.swing_id === this.player.swingId)) this.setOpen(false);
  }

  // `swingId`: the swing to open with (else the one picked).
  setOpen(open, { swingId = null, offsetMs = 0 } = {}) {
    this.ui.compareScreen.hidden = !open;
    this.ui.screens.classList.toggle("comparing", open);
    if (this.controls) {
      this.ui.mainLabel.hidden = !open;
      this.ui.compareControls.hidden = !open;
      this.ui.compareToggle.setAttribute("aria-pressed", String(open));
    }
    if (open) this.load(swingId || this.ui.compareSelect.value, offsetMs);
    else {
      this.video.pause();
      this.swing = null;
    }
  }

  load(swingId, offsetMs = 0) {
    const swing = this.player.swings.get(swingId);
    if (!swing) return;
    this.swing = swing;
    this.offsetMs = offsetMs;
    if (this.controls) this.ui.compareSelect.value = swing.swing_id;
    this.video.poster = swing.poster_url || "";
    this.video.src = swing.video_url;
    this.video.load();
    this.ui.compareLabel.textContent = swingName(swing);
    this.renderStatus();
  }

  // One frame of the second swing alone: both stop, and the offset changes.
  step(frames) {
    if (!this.player.video.paused) this.player.video.pause();
    const fps = (this.swing && this.swing.fps) || DEFAULT_FPS;
    const frame = Math.max(0, Math.floor(this.video.currentTime * fps + 1e-3) + frames);
    // Land in the middle of the frame, so rounding cannot show its neighbour.
    const at = (frame + 0.5) / fps;
    this.offsetMs = at * 1000 - this.main.currentTime * 1000;
    this.video.pause();
    this.video.currentTime = at;
    this.renderStatus();
  }

  // Where the second swing should be now, within its length.
  target() {
    const end = Number.isFinite(this.video.duration) ? this.video.duration * 1000 : Infinity;
    return Math.min(Math.max(0, this.main.currentTime * 1000 + this.offsetMs), end);
  }

  drift() {
    return this.video.currentTime * 1000 - this.target();
  }

  // After the main swing moved: the second one follows (a small drift while playing is
  // `keepUp`'s, by the rate, so a follower's rate nudges do not make it jump).
  follow() {
    if (!this.open || !this.swing) return;
    if (this.main.paused) {
      if (!this.video.paused) this.video.pause();
      if (Math.abs(this.drift()) > 1) this.video.currentTime = this.target() / 1000;
      return;
    }
    if (Math.abs(this.drift()) > SEEK_DRIFT_MS / 2) this.video.currentTime = this.target() / 1000;
    if (this.video.paused) {
      this.video.playbackRate = this.main.playbackRate;
      const started = this.video.play();
      if (started) started.catch(() => {});
    }
  }

  keepUp() {
    if (!this.open || !this.swing || this.main.paused || this.video.seeking) return;
    const drift = this.drift();
    const rate = this.main.playbackRate;
    if (Math.abs(drift) > SEEK_DRIFT_MS) this.video.currentTime = this.target() / 1000;
    else if (Math.abs(drift) <= DEADBAND_MS) this.video.playbackRate = rate;
    else this.video.playbackRate = rate * (1 + Math.max(-0.3, Math.min(0.3, -drift / CORRECTION_MS / rate)));
  }

  renderStatus() {
    const offset = this.offsetMs;
    const amount = { offset: formatSeconds(Math.abs(offset)) };
    let text;
    if (Math.abs(offset) < 0.5) text = gettext("Both swings run from the same moment. Step this one to line it up with the main swing.");
    else if (offset > 0) text = tf(gettext("This swing runs %(offset)s ahead of the main one."), amount);
    else text = tf(gettext("This swing runs %(offset)s behind the main one."), amount);
    if (this.ui.compareStatus.textContent !== text) this.ui.compareStatus.textContent = text;
  }
}
