// Who is in the lesson now (Phoenix Presence), and whose connection went silent: a
// person whose every connection the server marks `connection: "lost"` (coaching/realtime/
// liveness.py) shows "Connection lost · N s" instead of being shown as here.
import { el, safeClass } from "../realtime.js";
import { roleLabel, tf } from "../i18n.js";

const ROLE_ORDER = { coach: 0, student: 1, admin: 2, service: 3 };

function person(id, metas) {
  const lost = metas.every((m) => m.connection === "lost");
  const lostAt = lost ? Math.min(...metas.map((m) => m.lost_at ?? Infinity)) : Infinity;
  return { id, name: metas[0].name, role: metas[0].role, lostAt: Number.isFinite(lostAt) ? lostAt : null };
}

// Renders the list; true while someone's connection is lost (re-render every second then).
export function renderPresence(list, count, presence, me, serverNow = () => Date.now()) {
  const people = presence.list((id, { metas }) => person(id, metas));
  people.sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
    || String(a.name).localeCompare(String(b.name)));
  count.textContent = String(people.length);
  list.replaceChildren(...people.map((p) => el("li", {
    className: `presence-item${p.lostAt !== null ? " is-lost" : ""}`,
    dataset: { userId: p.id, role: safeClass(p.role) },
  },
  el("span", { className: "dot", attrs: { "aria-hidden": "true" } }),
  el("span", { className: "presence-name", text: p.name }),
  me && String(me.id) === String(p.id) ? el("span", { className: "muted", text: gettext("(you)") }) : null,
  el("span", { className: `role-badge role-${safeClass(p.role)}`, text: roleLabel(p.role) }),
  p.lostAt !== null ? el("span", {
    className: "connection-lost",
    text: tf(gettext("Connection lost · %(seconds)s s"), {
      seconds: Math.max(0, Math.round((serverNow() - p.lostAt) / 1000)),
    }),
  }) : null,
  )));
  return people.some((p) => p.lostAt !== null);
}
