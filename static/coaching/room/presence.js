// Who is in the lesson now (Phoenix Presence).
import { el, safeClass } from "../realtime.js";
import { roleLabel } from "../i18n.js";

const ROLE_ORDER = { coach: 0, student: 1, admin: 2, service: 3 };
export function renderPresence(list, count, presence, me) {
  const people = presence.list((id, { metas }) => ({ id, name: metas[0].name, role: metas[0].role }));
  people.sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
    || String(a.name).localeCompare(String(b.name)));
  count.textContent = String(people.length);
  list.replaceChildren(...people.map((p) => el("li", {
    className: "presence-item", dataset: { userId: p.id, role: safeClass(p.role) },
  },
  el("span", { className: "dot", attrs: { "aria-hidden": "true" } }),
  el("span", { className: "presence-name", text: p.name }),
  me && String(me.id) === String(p.id) ? el("span", { className: "muted", text: gettext("(you)") }) : null,
  el("span", { className: `role-badge role-${safeClass(p.role)}`, text: roleLabel(p.role) }),
  )));
}
