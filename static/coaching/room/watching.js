// How many people watch the lesson through a share link now (`presence:watching`), for
// those in the room: "N watching" in a polite live region (role="status"), hidden while
// nobody watches. Share viewers are counted, never listed (docs/protocol.md).
import { tf } from "../i18n.js";

export function renderWatching(node, count) {
  const n = Number(count) || 0;
  node.hidden = n === 0;
  node.textContent = n === 0 ? "" : tf(ngettext("%(count)s watching", "%(count)s watching", n), { count: n });
}
