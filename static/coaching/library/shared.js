// A shared lesson recap (/shared/{share_id}/{secret}/): the recap as the lesson's room shows
// it, read-only, from the page's own data (display names only; nothing is fetched).
import { renderRecap } from "../room/recap.js";
import { formatDateTime, tf } from "../i18n.js";

const data = JSON.parse(document.getElementById("shared-lesson-data").textContent);
const swings = new Map((data.swings || []).map((swing) => [swing.swing_id, swing]));
renderRecap(document.getElementById("recap"), data.recap, { swing: (id) => swings.get(id) });
const expires = document.getElementById("shared-expires");
expires.textContent = tf(gettext("Shared until %(time)s"), { time: formatDateTime(data.expires_at) });
