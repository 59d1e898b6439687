// Shared by every page: CSRF cookie, JSON fetch, socket token and the Phoenix socket,
// a tiny DOM builder that only ever sets text (never HTML) from data, and safe class names.
/* global Phoenix */

export function getCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

// fetch JSON with the session cookie and the CSRF header; throws ApiError on non-2xx.
export async function apiFetch(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = getCookie("csrftoken") || "";
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network_error", "The server could not be reached.", null);
  }
  let data = null;
  if ((response.headers.get("Content-Type") || "").includes("json")) {
    data = await response.json().catch(() => null);
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `Request failed (HTTP ${response.status}).`,
      data,
    );
  }
  return data;
}

// A paginated DRF list ({results: [...]}) or a plain array.
export function listResults(data) {
  if (Array.isArray(data)) return data;
  return (data && Array.isArray(data.results)) ? data.results : [];
}

export function loginRedirect() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login/?next=${next}`);
}

// Builds an element. `props`: className, text (textContent), dataset, attrs, on (events);
// other keys are set as properties (type, disabled, value, ...). Children: nodes or strings
// (strings become text nodes). No innerHTML anywhere.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Scrolls `target` to the top of the box that scrolls it (a panel or column) and focuses
// it. Never the document: the room's header, tabs and controls stay where they are.
export function reveal(target, { smooth = false } = {}) {
  let box = target.parentElement;
  for (; box && box !== document.body; box = box.parentElement) {
    const { overflowY } = getComputedStyle(box);
    if ((overflowY === "auto" || overflowY === "scroll") && box.scrollHeight > box.clientHeight) break;
  }
  if (box && box !== document.body) {
    const top = target.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    box.scrollTo({ top: Math.max(0, top - 8), behavior: smooth && !still ? "smooth" : "auto" });
  }
  target.focus({ preventScroll: true });
}

// A value as part of a class name (e.g. `role-${safeClass(role)}`): lower case, and only
// letters, digits, "_" and "-".
export function safeClass(value) {
  return String(value || "").toLowerCase().replace(/[^a-z0-9_-]/g, "");
}

// Dates in the viewer's language and the site's time zone (see i18n.js).
export { formatDateTime, formatTime } from "./i18n.js";

export function sessionUrl(sessionId) {
  return `/sessions/${encodeURIComponent(sessionId)}/`;
}

export function randomId() {
  if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
}

// The socket token: short-lived, refreshed a minute before it expires, so that
// phoenix.js (which calls `params` again on every reconnect) always offers a valid one.
// `fetchToken`: where it comes from (a user's, by default; a share link's page asks its
// link); `onGone(code)`: that source answered 410 (the share link was revoked or expired).
const userToken = () => apiFetch("POST", "/api/auth/socket-token/");

class TokenKeeper {
  constructor({ fetchToken = userToken, onGone = () => {} } = {}) {
    this.fetchToken = fetchToken;
    this.onGone = onGone;
    this.token = null;
    this.expiresAt = 0;
    this.inflight = null;
    this.timer = null;
  }

  async refresh() {
    if (this.inflight) return this.inflight;
    this.inflight = (async () => {
      try {
        const data = await this.fetchToken();
        this.token = data.token;
        const lifetime = Math.max(Number(data.expires_in) || 60, 10);
        this.expiresAt = Date.now() + lifetime * 1000;
        this.schedule(Math.max(lifetime - 60, lifetime * 0.8) * 1000);
        return this.token;
      } catch (err) {
        if (err.status === 401) {
          loginRedirect(); // the Django session is gone
        } else if (err.status === 410) {
          this.onGone(err.code); // no token will come again
        } else {
          this.schedule(5000); // server briefly unreachable: try again soon
        }
        throw err;
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), ms);
  }

  // Called when the socket fails: a stale token (e.g. after the laptop slept) is renewed.
  refreshIfStale() {
    if (Date.now() > this.expiresAt - 30000) this.refresh().catch(() => {});
  }
}

// Close codes of coaching/realtime/socket.py: 4001 access ended, 4002 token expired.
const TOKEN_SPENT_CLOSE_CODES = new Set([4001, 4002]);

// Fetches a token, then opens the Phoenix socket. Resolves to the connected-or-connecting
// socket. `status` (a room/connection.js ConnectionStatus) shows the connection's state
// and sets the heartbeat and retry timing; `fetchToken` and `onGone`: see TokenKeeper.
// `session`: the lesson the socket is for, in its URL, so that the proxy sends every
// socket of a lesson to one server process (docs/operations.md, "Session affinity").
export async function connectSocket({ status, fetchToken, onGone, session } = {}) {
  const tokens = new TokenKeeper({ fetchToken, onGone });
  for (;;) {
    try {
      await tokens.refresh();
      break;
    } catch (err) {
      // Logged out, no CSRF cookie, or a share link that is gone.
      if (err.status === 401 || err.status === 403 || err.status === 410) throw err;
      if (status) status.retryIn(3000);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
  const socket = new Phoenix.Socket("/socket", {
    params: () => ({
      token: tokens.token,
      ...(session ? { session } : {}),
      ...(status ? status.socketParams() : {}),
    }),
    ...(status ? status.socketOptions() : {}),
  });
  if (status) status.bind(socket);
  socket.onError(() => tokens.refreshIfStale());
  // The server closed the socket because the token is spent (the user's access ended, a
  // share link was revoked, or it expired): fetch a new one for the reconnect; a 401 here
  // goes to the login page, a 410 to `onGone`.
  socket.onClose((event) => {
    if (event && TOKEN_SPENT_CLOSE_CODES.has(event.code)) tokens.refresh().catch(() => {});
  });
  socket.connect();
  return socket;
}

// Join errors that retrying cannot fix: stop phoenix.js from retrying forever.
export const FATAL_JOIN_REASONS = new Set(["unauthorized", "forbidden", "not_found"]);
