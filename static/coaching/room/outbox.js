// Chat lines not yet acknowledged by the server, kept in localStorage (per session and
// user) so that a reload or a lost connection loses nothing. Each line has its
// client_msg_id from the moment it is written; resending it is safe because the server
// stores a client_msg_id once. Lines are sent one at a time, oldest first, so they
// arrive in the order they were written.
import { randomId } from "../realtime.js";

// A line still unsent this long after it was written is shown as failed (with Retry).
export const FAIL_AFTER_MS = 3 * 60 * 1000;
const PUSH_TIMEOUT_MS = 10_000;
const RETRY_EVERY_MS = 5000;
// Replies that resending cannot change.
const FINAL_ERRORS = new Set([
  "invalid_input", "forbidden", "session_ended", "not_found", "unauthorized",
]);

export class Outbox {
  constructor(storageKey, { onChange, onAck }) {
    this.key = storageKey;
    this.onChange = onChange;
    this.onAck = onAck;
    this.items = this.load();
    this.channel = null;
    this.canSend = () => false;
    this.flushing = false;
    setInterval(() => this.tick(), RETRY_EVERY_MS);
  }

  load() {
    try {
      const items = JSON.parse(localStorage.getItem(this.key) || "[]");
      return Array.isArray(items) ? items.filter((i) => i && i.id && typeof i.text === "string") : [];
    } catch (err) {
      return [];
    }
  }

  save() {
    try {
      if (this.items.length) localStorage.setItem(this.key, JSON.stringify(this.items));
      else localStorage.removeItem(this.key);
    } catch (err) {
      // storage full or disabled: the lines still live in memory for this page
    }
  }

  changed(item) {
    this.save();
    this.onChange(item);
  }

  add(text) {
    const item = { id: randomId(), text, writtenAt: Date.now(), state: "sending", error: null };
    this.items.push(item);
    this.changed(item);
    this.flush();
    return item;
  }

  remove(id) {
    const item = this.items.find((i) => i.id === id);
    this.items = this.items.filter((i) => i.id !== id);
    this.save();
    return item;
  }

  retry(id) {
    const item = this.items.find((i) => i.id === id);
    if (!item) return;
    item.state = "sending";
    item.error = null;
    item.writtenAt = Date.now();
    this.changed(item);
    this.flush();
  }

  // Called after every ok join (and whenever a line is added): send what waits.
  attach(channel, canSend) {
    this.channel = channel;
    this.canSend = canSend;
    this.flush();
  }

  tick() {
    const now = Date.now();
    for (const item of this.items) {
      if (item.state === "sending" && now - item.writtenAt > FAIL_AFTER_MS) {
        item.state = "failed";
        item.error = "timeout";
        this.changed(item);
      }
    }
    this.flush();
  }

  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const item = this.items.find((i) => i.state === "sending");
        if (!item || !this.channel || !this.canSend()) return;
        const reply = await this.push(item);
        if (reply.status === "ok") {
          this.remove(item.id);
          this.onAck(item, reply.response.message);
        } else if (reply.status === "error" && FINAL_ERRORS.has(reply.response.reason)) {
          item.state = "failed";
          item.error = reply.response.reason;
          item.message = reply.response.message || "";
          this.changed(item);
        } else if (reply.response && reply.response.retry_after_ms) {
          // rate limited: wait as told, then go on
          await new Promise((r) => setTimeout(r, Math.min(reply.response.retry_after_ms, 10000)));
        } else if (reply.status !== "timeout") {
          return; // a server hiccup: the next tick (or rejoin) tries again
        }
        // timeout: sent again at once if the channel is (again) joined, else after the rejoin
      }
    } finally {
      this.flushing = false;
    }
  }

  push(item) {
    return new Promise((resolve) => {
      this.channel.push("chat:new", { message: item.text, client_msg_id: item.id }, PUSH_TIMEOUT_MS)
        .receive("ok", (response) => resolve({ status: "ok", response }))
        .receive("error", (response) => resolve({ status: "error", response: response || {} }))
        .receive("timeout", () => resolve({ status: "timeout", response: null }));
    });
  }
}
