// Drives the swing player (review/player.js, without its own controls) from the
// recording: at the replay's moment it shows the swing the room had, at the recorded
// media position (docs/protocol.md's live position at that moment), playing at the
// recorded rate times the replay's speed while both play; a playing video that drifts is
// brought back as the room's followers are (review/sync.js catchUpRate). The swing it
// was compared with then, if any, runs beside it (review/compare.js); the strokes drawn
// at that moment are shown over it (review/shapes.js).
import { swingName } from "../i18n.js";
import { catchUpRate } from "../review/sync.js";
import { drawShapes, videoOverlay } from "../review/shapes.js";

const CHECK_MS = 100; // while playing, the drift is checked this often

export class PlayerDriver {
  constructor({ recording, clock, player, compare, screen, label }) {
    Object.assign(this, { recording, clock, player, compare, label });
    this.video = player.video;
    this.svg = videoOverlay(this.video, screen, "review-overlay", () => this.draw(true));
    this.loading = null; // the swing being loaded
    this.drawn = -1; // the review entries the drawing was made from
    this.checked = 0;
    clock.on("tick", (t, { jumped }) => this.follow(t, { force: jumped }));
    clock.on("change", () => this.follow(clock.t, { force: true }));
  }

  // The strokes at the clock's moment, drawn again only when they may have changed.
  draw(force = false) {
    const count = this.recording.reviewCount(this.clock.t);
    if (!force && count === this.drawn) return;
    this.drawn = count;
    drawShapes(this.svg, this.recording.shapesAt(this.clock.t));
  }

  follow(t, { force = false } = {}) {
    this.draw(force);
    const state = this.recording.stateAt(t);
    if (!state.swing_id) return;
    if (state.swing_id !== this.player.swingId) {
      this.show(state.swing_id);
      return;
    }
    if (this.loading) return;
    this.compare.applyShared(state.compare || null);
    const now = performance.now();
    const video = this.video;
    const duration = this.player.durationMs || null;
    const target = this.recording.positionAt(t, duration);
    const rate = state.rate * this.clock.speed;
    const moving = this.clock.playing && state.playing && !(duration && target >= duration);
    if (!moving) {
      if (!video.paused) video.pause();
      // Still: exactly the recorded frame.
      if (Math.abs(video.currentTime * 1000 - target) > 1) this.player.seek(target);
      return;
    }
    if (video.paused || force) {
      this.player.seek(target);
      video.playbackRate = rate;
      if (video.paused) this.player.play();
      this.checked = now;
      return;
    }
    if (now - this.checked < CHECK_MS || video.seeking) return;
    this.checked = now;
    const next = catchUpRate(video.currentTime * 1000 - target, rate);
    if (next === null) {
      this.player.seek(target);
      video.playbackRate = rate;
    } else if (video.playbackRate !== next) {
      video.playbackRate = next;
    }
  }

  async show(swingId) {
    if (this.loading === swingId) return;
    this.loading = swingId;
    this.video.pause();
    const ok = await this.player.select(swingId);
    if (this.loading !== swingId) return; // another swing took over
    this.loading = null;
    this.label.textContent = swingName(this.player.swing);
    if (ok) this.follow(this.clock.t, { force: true });
  }
}
