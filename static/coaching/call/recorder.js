// The call's recording, in the coach's page (docs/api.md, "Recording the call"): this
// side's microphone and the other's voice mixed by WebAudio into one stream, recorded by
// MediaRecorder (WebM/Opus) in chunks of CHUNK_MS, each uploaded as soon as it is made —
// a crash loses only the chunk being made. Its start is stamped with the server's time
// (room.serverNow()) so the replay places it on the lesson's clock. The server refuses
// every chunk unless both participants consent at that moment; a refusal stops it.
import { ApiError, apiFetch, getCookie } from "../realtime.js";

const CHUNK_MS = 2000;
const TYPE = "audio/webm;codecs=opus";
const RETRY_MS = [500, 1000, 2000, 4000, 8000];

export function canRecord() {
  return typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported(TYPE)
    && typeof AudioContext !== "undefined";
}

async function putChunk(url, blob) {
  let response;
  try {
    response = await fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", "X-CSRFToken": getCookie("csrftoken") || "" },
      body: blob,
    });
  } catch (err) {
    throw new ApiError(0, "network_error", "The server could not be reached.", null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText, data);
  }
  return data;
}

export class CallRecorder {
  // `api`: the session's API URL; `serverNow()`: the server's time; `onStopped(error)`:
  // the server refused (no consent any more, the lesson ended) or the recorder failed.
  constructor({ api, serverNow, onStopped }) {
    Object.assign(this, { api, serverNow, onStopped });
    this.queue = [];
    this.sending = null;
    this.stopped = false;
    this.created = null; // the server's recording, once MediaRecorder has started
    this.n = 0;
  }

  // Record `local` (this side's microphone track) and `remote` (the other's audio track).
  start(local, remote) {
    this.context = new AudioContext();
    const mix = this.context.createMediaStreamDestination();
    for (const track of [local, remote]) {
      this.context.createMediaStreamSource(new MediaStream([track])).connect(mix);
    }
    this.media = new MediaRecorder(mix.stream, { mimeType: TYPE });
    this.media.onstart = () => {
      this.last = performance.now();
      this.created = apiFetch("POST", `${this.api}/recordings/`, { started_at: Math.round(this.serverNow()) });
      this.created.catch((err) => this.fail(err));
    };
    this.media.ondataavailable = (event) => {
      const now = performance.now();
      const ms = Math.round(now - this.last);
      this.last = now;
      if (event.data && event.data.size) this.queue.push({ n: this.n++, blob: event.data, ms });
      this.pump();
    };
    this.media.onerror = (event) => this.fail(event.error || new Error("MediaRecorder failed"));
    this.media.start(CHUNK_MS);
  }

  // Chunks go one at a time, in order; a failed one is sent again (the server keeps a
  // chunk once, by its number) until a refusal that sending again cannot change.
  pump() {
    if (this.sending || (this.stopped && !this.finishing)) return;
    const item = this.queue[0];
    if (!item) return;
    this.sending = this.send(item).then(() => {
      this.queue.shift();
      this.sending = null;
      this.pump();
    }, (err) => {
      this.sending = null;
      this.fail(err);
    });
  }

  async send({ n, blob, ms }) {
    const recording = await this.created;
    const url = `${this.api}/recordings/${encodeURIComponent(recording.id)}/chunks/${n}/?duration_ms=${ms}`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await putChunk(url, blob);
      } catch (err) {
        if (err.status !== 0 && err.status < 500 || attempt >= RETRY_MS.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt]));
      }
    }
  }

  fail(err) {
    if (this.stopped) return;
    this.close();
    this.queue = [];
    this.onStopped(err);
  }

  close() {
    this.stopped = true;
    if (this.media && this.media.state !== "inactive") this.media.stop();
    if (this.context) this.context.close().catch(() => {});
  }

  // Stop now (the call ended, consent withdrawn): the last chunk is sent (the server
  // refuses it if consent is gone) and the recording finished.
  async stop() {
    if (this.stopped) return;
    this.finishing = true;
    const flushed = new Promise((resolve) => { this.media.addEventListener("stop", resolve, { once: true }); });
    this.close();
    await flushed;
    this.pump();
    while (this.sending) await this.sending;
    this.finishing = false;
    const recording = this.created ? await this.created.catch(() => null) : null;
    if (recording) {
      await apiFetch("POST", `${this.api}/recordings/${encodeURIComponent(recording.id)}/finish/`).catch(() => {});
    }
  }
}
