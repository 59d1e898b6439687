// Chat lines and the message box. User text is only ever set as textContent; links are
// anchors we create for http(s) URLs found in it.
import { el, safeClass } from "../realtime.js";
import { formatNumber, formatTime, roleLabel, tf } from "../i18n.js";

export const MAX_CHARS = 2000;
const WARN_AT = 1800;
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;

// Text with its http(s) URLs as links (rel=noopener, new tab); everything else as text.
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0].replace(/[.,!?;:)\]}'"]+$/, "");
    let url = null;
    try {
      url = new URL(raw);
    } catch (err) {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    fragment.append(text.slice(last, match.index));
    fragment.append(el("a", {
      href: url.href, text: raw, target: "_blank", attrs: { rel: "noopener noreferrer" },
    }));
    last = match.index + raw.length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

const STATE_TEXT = () => ({
  sending: gettext("Sending…"),
  sent: gettext("Sent"),
  failed: gettext("Not sent"),
});

// One chat line. `state`: "sent" for logged lines; outbox lines are "sending" or "failed".
export function messageNode(msg, { mine, state = "sent", onRetry, onDiscard, failText }) {
  const sender = msg.sender || {};
  const status = mine
    ? el("span", { className: `chat-state state-${state}`, text: STATE_TEXT()[state] })
    : null;
  const actions = state === "failed"
    ? el("div", { className: "chat-failed" },
      el("p", { className: "chat-failed-text", text: failText }),
      el("button", { type: "button", className: "btn btn-small", text: gettext("Retry"), on: { click: onRetry } }),
      el("button", { type: "button", className: "btn btn-small btn-ghost", text: gettext("Delete"), on: { click: onDiscard } }))
    : null;
  return el("li", {
    className: `chat-msg${mine ? " mine" : ""} from-${safeClass(sender.role)} is-${state}`,
    dataset: { id: msg.id || "", clientMsgId: msg.client_msg_id || "" },
  },
  el("div", { className: "chat-head" },
    el("span", { className: "chat-sender", text: sender.name || gettext("Someone") }),
    el("span", { className: `role-badge role-${safeClass(sender.role)}`, text: roleLabel(sender.role) }),
    el("time", { className: "chat-time", text: formatTime(msg.meta && msg.meta.ts) }),
  ),
  el("p", { className: "chat-text" }, linkify(String(msg.message || ""))),
  status, actions);
}

// The message box: Enter sends, Shift+Enter (or Enter while composing Hangul) is a new
// line; a counter warns before the limit, and nothing is cut silently.
export class Composer {
  constructor({ form, input, send, counter, hint, onSend }) {
    Object.assign(this, { form, input, send, counter, hint, onSend });
    this.enabled = false;
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    input.addEventListener("input", () => { this.update(); this.autosize(); });
    this.update();
  }

  length() {
    return [...this.input.value.trim()].length;
  }

  setEnabled(enabled, placeholder) {
    this.enabled = enabled;
    this.input.disabled = !enabled;
    this.send.disabled = !enabled;
    this.input.placeholder = placeholder;
  }

  showHint(text, kind = "info") {
    this.hint.textContent = text;
    this.hint.dataset.kind = kind;
    this.hint.hidden = !text;
  }

  update() {
    const count = this.length();
    this.counter.textContent = `${formatNumber(count, 0)} / ${formatNumber(MAX_CHARS, 0)}`;
    this.counter.dataset.level = count > MAX_CHARS ? "over" : (count >= WARN_AT ? "near" : "ok");
    this.counter.hidden = count < WARN_AT;
    if (count > MAX_CHARS) {
      this.showHint(tf(gettext("Too long by %(count)s characters: shorten it to send (the limit is %(max)s)."),
        { count: formatNumber(count - MAX_CHARS, 0), max: formatNumber(MAX_CHARS, 0) }), "error");
    } else if (this.hint.dataset.kind === "error" || this.hint.dataset.kind === "empty") {
      this.showHint("");
    }
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  submit() {
    if (!this.enabled) return;
    const text = this.input.value.trim();
    if (!text) {
      this.showHint(gettext("Write a message first."), "empty");
      this.input.focus();
      return;
    }
    if ([...text].length > MAX_CHARS) {
      this.update();
      this.input.focus();
      return;
    }
    this.input.value = "";
    this.update();
    this.autosize();
    this.showHint("");
    this.onSend(text);
    this.input.focus();
  }
}
