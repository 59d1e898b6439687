// Filming in the page: the phone's back camera (or a laptop's) in a preview, recorded with
// MediaRecorder. Where the browser cannot, the room falls back to the camera file input.
const MAX_RECORDING_MS = 60_000;
const MIME_TYPES = ["video/mp4", "video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];

export const canFilm = () => Boolean(
  navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder,
);

export class Camera {
  constructor(preview) {
    this.preview = preview;
    this.stream = null;
    this.recorder = null;
  }

  async open() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } }, audio: false,
    });
    this.preview.srcObject = this.stream;
    await this.preview.play().catch(() => {});
  }

  // Resolves with { file, durationMs } when stopped (or after a minute).
  record() {
    const mimeType = MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
    this.recorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : {});
    const chunks = [];
    const started = performance.now();
    this.recorder.addEventListener("dataavailable", (event) => {
      if (event.data.size) chunks.push(event.data);
    });
    const stopped = new Promise((resolve) => {
      this.recorder.addEventListener("stop", () => {
        const type = (this.recorder.mimeType || mimeType || "video/webm").split(";")[0];
        const ext = type === "video/mp4" ? "mp4" : "webm";
        const file = new File(chunks, `swing-${Date.now()}.${ext}`, { type });
        resolve({ file, durationMs: Math.round(performance.now() - started) });
      }, { once: true });
    });
    this.recorder.start(1000);
    this.limit = setTimeout(() => this.stop(), MAX_RECORDING_MS);
    return stopped;
  }

  get recording() { return Boolean(this.recorder && this.recorder.state === "recording"); }

  stop() {
    clearTimeout(this.limit);
    if (this.recording) this.recorder.stop();
  }

  close() {
    this.stop();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.preview.srcObject = null;
  }
}
