// The room opened through a share link (/shared/{share_id}/{secret}/ while the lesson
// runs): no account, read-only. Its socket token comes from the link itself, and when the
// link is revoked or expires the page says so and stops reconnecting (a reload then
// shows the link's 410 page).
import { apiFetch } from "../realtime.js";

// The link's socket token (coaching/views.py shared_socket_token): {token, expires_in, topic}.
export const shareToken = () => apiFetch("POST", `${location.pathname}socket-token/`);

// What the page says once the link no longer answers (`code`: the token's 410 reason).
export function goneText(code) {
  return code === "share_expired"
    ? gettext("This share link has expired.")
    : gettext("This share link was revoked.");
}
