// Drives the call's recorded audio (the document's `recordings`: start_ms on the
// lesson's clock, duration_ms, url) from the replay's clock, as the player is driven:
// at moment `t` inside a recording its <audio> plays from `t - start_ms`, at the
// replay's speed with the pitch kept (preservesPitch), seeking on every jump and, while
// playing, nudging its rate when it drifts (review/sync.js catchUpRate: a seek when far
// off). Outside every recording it is silent. Each file is fetched once, whole, so a
// seek in it never waits for the network (MediaRecorder's WebM has no index to seek by).
import { catchUpRate } from "../review/sync.js";

const CHECK_MS = 100; // while playing, the drift is checked this often

export class AudioDriver {
  constructor({ recordings, clock, audio }) {
    Object.assign(this, { recordings, clock, audio });
    this.current = null; // the recording loaded in the element
    this.urls = new Map(); // recording id → its object URL
    this.checked = 0;
    this.speed = 1; // the replay's speed the rate was last set for
    audio.preservesPitch = true;
    clock.on("tick", (t, { jumped }) => this.follow(t, { force: jumped }));
    // Played, paused or another speed: no seek (a seek's landing costs more than the
    // drift it would take away); the rate follows at the next check.
    clock.on("change", () => this.follow(clock.t));
  }

  // The recordings were deleted: silent from now on.
  clear() {
    this.recordings = [];
    this.current = null;
    this.audio.pause();
    this.audio.removeAttribute("src");
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }

  at(t) {
    return this.recordings.find((r) => t >= r.start_ms && t < r.start_ms + r.duration_ms) || null;
  }

  async load(recording) {
    this.current = recording;
    this.audio.pause();
    if (!this.urls.has(recording.id)) {
      const response = await fetch(recording.url, { credentials: "same-origin" });
      if (!response.ok) return false;
      this.urls.set(recording.id, URL.createObjectURL(await response.blob()));
    }
    if (this.current !== recording) return false;
    this.audio.src = this.urls.get(recording.id);
    await new Promise((resolve) => this.audio.addEventListener("loadedmetadata", resolve, { once: true }));
    return this.current === recording;
  }

  follow(t, { force = false } = {}) {
    const recording = this.at(t);
    const audio = this.audio;
    if (!recording) {
      if (!audio.paused) audio.pause();
      return;
    }
    if (recording !== this.current) {
      this.load(recording).then((ok) => { if (ok) this.follow(this.clock.t, { force: true }); });
      return;
    }
    if (audio.readyState < 1) return; // still loading
    const target = (t - recording.start_ms) / 1000;
    const rate = this.clock.speed;
    if (!this.clock.playing) {
      if (!audio.paused) audio.pause();
      if (force) audio.currentTime = target;
      return;
    }
    const now = performance.now();
    if (audio.paused || force) {
      audio.currentTime = target;
      audio.playbackRate = rate;
      this.speed = rate;
      if (audio.paused) audio.play().catch(() => {});
      this.checked = now;
      return;
    }
    const newSpeed = rate !== this.speed; // checked at once, not at the next CHECK_MS
    if ((now - this.checked < CHECK_MS && !newSpeed) || audio.seeking) return;
    this.speed = rate;
    this.checked = now;
    const next = catchUpRate((audio.currentTime - target) * 1000, rate);
    if (next === null) {
      audio.currentTime = target;
      audio.playbackRate = rate;
    } else if (audio.playbackRate !== next) {
      audio.playbackRate = next;
    }
  }
}
