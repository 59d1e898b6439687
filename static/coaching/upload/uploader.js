// A resumable upload of one swing video (docs/api.md, "Uploading a swing"): announce it,
// then send chunks, each at the offset the server has. A dropped connection loses at most
// the chunk in flight: the uploader asks the server for its offset and goes on from there
// (never from 0), retrying while the page is open — at once when the browser is back online.
import { ApiError, apiFetch, getCookie } from "../realtime.js";

const RETRY_MS = [1000, 2000, 4000, 8000, 15000];
// Refusals that sending again cannot change.
const FINAL = new Set([400, 401, 403, 404, 413, 415]);

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); window.removeEventListener("online", done); resolve(); };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function errorOf(response) {
  const data = await response.json().catch(() => null);
  const error = (data && data.error) || {};
  return new ApiError(response.status, error.code || "error", error.message || response.statusText, data);
}

export class SwingUpload {
  // `api`: the session's API URL; `onProgress(sent, size)`; `onRetry(error)` while offline.
  constructor({ api, file, contentType, durationMs, poster, onProgress, onRetry }) {
    Object.assign(this, { api, file, contentType, durationMs, poster, onProgress, onRetry });
    this.aborter = new AbortController();
  }

  cancel() { this.aborter.abort(); }

  // Resolves with the swing once the last chunk is stored; rejects with an ApiError.
  async run() {
    const started = await this.retrying(() => apiFetch("POST", `${this.api}/uploads/`, {
      filename: this.file.name || "swing", size: this.file.size, content_type: this.contentType,
      duration_ms: this.durationMs, ...(this.poster ? { poster: this.poster } : {}),
    }));
    this.url = `${this.api}/uploads/${encodeURIComponent(started.upload_id)}/`;
    let state = started;
    while (state.status !== "complete") {
      this.onProgress(state.offset, this.file.size);
      state = await this.retrying(() => this.send(state.offset, state.chunk_size));
    }
    this.onProgress(this.file.size, this.file.size);
    return state.swing;
  }

  // One chunk from `offset`; a 409 answers with the server's offset (the chunk is not
  // stored), and the loop goes on from there.
  async send(offset, chunkSize) {
    let response;
    try {
      response = await fetch(this.url, {
        method: "PATCH",
        credentials: "same-origin",
        signal: this.aborter.signal,
        headers: {
          "Content-Type": "application/octet-stream",
          "Upload-Offset": String(offset),
          "X-CSRFToken": getCookie("csrftoken") || "",
        },
        body: this.file.slice(offset, offset + chunkSize),
      });
    } catch (err) {
      throw new ApiError(0, "network_error", "The server could not be reached.", null);
    }
    if (response.status === 409) {
      const data = await response.json().catch(() => null);
      if (data && Number.isInteger(data.offset)) return this.where();
    }
    if (!response.ok) throw await errorOf(response);
    return response.json();
  }

  // Where the server is, after a conflict or a drop.
  where() {
    return apiFetch("GET", this.url);
  }

  // `action()` until it answers; network errors and 5xx wait and try again (resuming from
  // the server's offset), other refusals end the upload.
  async retrying(action) {
    for (let attempt = 0; ; attempt += 1) {
      if (this.aborter.signal.aborted) throw new ApiError(0, "cancelled", "Cancelled.", null);
      try {
        const result = await action();
        return result;
      } catch (err) {
        if (this.aborter.signal.aborted || FINAL.has(err.status) || err.status === 409) throw err;
        this.onRetry(err);
        await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)], this.aborter.signal);
        if (this.url) action = () => this.where().then((state) => state.status === "complete"
          ? state : this.send(state.offset, state.chunk_size));
      }
    }
  }
}
