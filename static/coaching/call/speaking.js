// Whether someone is speaking: the level of an audio track (a WebAudio analyser),
// sampled a few times a second; `onChange(speaking)` when it crosses the threshold,
// with a short hold so the indicator does not flicker between words.
const SAMPLE_MS = 120;
const THRESHOLD = 0.02; // RMS of the waveform, 0..1
const HOLD_MS = 400;

let sharedContext = null;

function audioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  if (!sharedContext) sharedContext = new Context();
  if (sharedContext.state === "suspended") sharedContext.resume().catch(() => {});
  return sharedContext;
}

export class SpeakingMeter {
  constructor(onChange) {
    this.onChange = onChange;
    this.source = null;
    this.timer = null;
    this.speaking = false;
    this.lastLoud = 0;
  }

  watch(track) {
    this.stop();
    const context = track ? audioContext() : null;
    if (!context) return;
    this.source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      const now = performance.now();
      if (Math.sqrt(sum / samples.length) > THRESHOLD && track.enabled) this.lastLoud = now;
      this.set(now - this.lastLoud < HOLD_MS);
    }, SAMPLE_MS);
  }

  set(speaking) {
    if (speaking === this.speaking) return;
    this.speaking = speaking;
    this.onChange(speaking);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    if (this.source) this.source.disconnect();
    this.timer = null;
    this.source = null;
    this.set(false);
  }
}
