// The replay's clock: the moment `t` of the lesson being shown (server epoch ms, from
// the recording's start to its end), moving at ×1, ×2 or ×4 while it plays, jumping
// when the viewer seeks, and (if asked) over the quiet stretches. Listeners:
//   on("tick", (t, {jumped}))   every frame while playing, and after every jump
//   on("change", ())           played, paused, another speed, skipping on or off
//   on("skip", (fromT, toT))    a quiet stretch was skipped
export const SPEEDS = [1, 2, 4];

export class ReplayClock {
  // `quietAt(t)` → [from, to) | null: the quiet stretch `t` is in.
  constructor({ startMs, endMs, quietAt }) {
    Object.assign(this, { startMs, endMs, quietAt });
    this.t = startMs;
    this.speed = 1;
    this.playing = false;
    this.skipQuiet = false;
    this.frame = null;
    this.last = 0;
    this.listeners = { tick: [], change: [], skip: [] };
  }

  on(type, listener) {
    this.listeners[type].push(listener);
  }

  emit(type, ...args) {
    for (const listener of this.listeners[type]) listener(...args);
  }

  get atEnd() {
    return this.t >= this.endMs;
  }

  play() {
    if (this.playing) return;
    if (this.atEnd) this.jump(this.startMs);
    this.playing = true;
    this.last = performance.now();
    this.frame = requestAnimationFrame((now) => this.advance(now));
    this.skipIfQuiet();
    this.emit("change");
    this.emit("tick", this.t, { jumped: false });
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.frame = null;
    this.emit("change");
    this.emit("tick", this.t, { jumped: false });
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed) || speed === this.speed) return;
    this.speed = speed;
    this.emit("change");
    this.emit("tick", this.t, { jumped: false });
  }

  setSkipQuiet(on) {
    this.skipQuiet = Boolean(on);
    if (this.playing) this.skipIfQuiet();
    this.emit("change");
  }

  // To moment `t` (clamped to the recording), e.g. the scrub bar or a marker.
  seek(t) {
    this.jump(t);
    if (this.atEnd) this.pause();
  }

  jump(t) {
    this.t = Math.min(Math.max(Math.round(t), this.startMs), this.endMs);
    this.last = performance.now();
    this.emit("tick", this.t, { jumped: true });
  }

  skipIfQuiet() {
    if (!this.skipQuiet) return;
    const quiet = this.quietAt(this.t);
    if (!quiet) return;
    const from = this.t;
    this.jump(quiet[1]);
    this.emit("skip", from, this.t);
  }

  advance(now) {
    if (!this.playing) return;
    this.t = Math.min(this.endMs, this.t + Math.max(0, now - this.last) * this.speed);
    this.last = now;
    this.emit("tick", this.t, { jumped: false });
    this.skipIfQuiet();
    if (this.atEnd) {
      this.pause();
      return;
    }
    this.frame = requestAnimationFrame((next) => this.advance(next));
  }
}
