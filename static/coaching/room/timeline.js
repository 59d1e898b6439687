// The lesson's one timeline: every event-log entry (chat, notices, state and step
// changes, analysis milestones, cards, checkpoints, swings, annotations) in seq order,
// each shown once. Built from the join snapshot's `events`, then live events; older
// pages come from the REST event log ("load earlier"). Lines still in the outbox follow
// the logged ones. Scrolled up, new entries count as unread: a marker and a jump button.
// Entries of one group (a swing's analysis steps) are one line: at the group's first
// entry, showing its latest, updated in place (no new line, nothing unread).
import { el } from "../realtime.js";
import { tf } from "../i18n.js";

const NEAR_BOTTOM_PX = 80;

export class Timeline {
  // render(event, payload, timeline) → {node, announce?, group?, final?} | null; `group`:
  // the line's key when several entries share one line; `final`: the group's last form,
  // announced when it arrives live (its earlier updates are not).
  constructor({ scroller, list, earlier, jump, live, render, loadPage, onPrepend }) {
    Object.assign(this, { scroller, list, earlier, jump, live, render, loadPage, onPrepend });
    this.entries = new Map(); // seq -> {event, payload, node}
    this.groups = new Map(); // group -> {first: seq, latest: seq, node}
    this.pending = new Map(); // client_msg_id -> node
    this.unread = 0;
    this.marker = null;
    this.hasMoreBefore = false;
    this.loading = false;
    // Pinned: the reader is at the latest entry, and stays there when a banner or the
    // keyboard makes the list shorter.
    this.pinned = true;
    scroller.addEventListener("scroll", () => {
      this.pinned = this.nearBottom();
      if (this.pinned) this.clearUnread();
    });
    new ResizeObserver(() => { if (this.pinned) this.scroller.scrollTop = this.scroller.scrollHeight; })
      .observe(scroller);
    jump.addEventListener("click", () => this.scrollToEnd({ focus: true }));
    earlier.addEventListener("click", () => this.loadEarlier());
    this.updateEarlier();
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToEnd({ focus = false } = {}) {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.clearUnread();
    if (focus) {
      const last = this.list.lastElementChild;
      if (last) { last.tabIndex = -1; last.focus({ preventScroll: true }); }
    }
  }

  reset() {
    this.entries.clear();
    this.groups.clear();
    this.list.replaceChildren(...this.pending.values());
    this.marker = null;
    this.clearUnread();
  }

  has(seq) {
    return this.entries.has(seq);
  }

  oldestSeq() {
    let oldest = null;
    for (const seq of this.entries.keys()) if (oldest === null || seq < oldest) oldest = seq;
    return oldest;
  }

  // The payload of the latest `event` before `seq` (e.g. the state a change started from).
  before(seq, event) {
    let best = null;
    for (const [s, entry] of this.entries) {
      if (s < seq && entry.event === event && (best === null || s > best[0])) best = [s, entry];
    }
    return best ? best[1].payload : null;
  }

  // Entries of `event` (seq order), e.g. for re-rendering after an older page arrived.
  each(event) {
    return [...this.entries.entries()].filter(([, e]) => e.event === event).sort((a, b) => a[0] - b[0]);
  }

  // Adds one logged event; false if it is already shown (or cannot be shown).
  add(event, payload, { live = true, mine = false } = {}) {
    const seq = payload && payload.seq;
    if (typeof seq !== "number" || this.entries.has(seq)) return false;
    const entry = { event, payload, node: null };
    this.entries.set(seq, entry);
    const rendered = this.render(event, payload, this);
    if (!rendered) return true;
    if (rendered.group && this.groups.has(rendered.group)) {
      this.merge(this.groups.get(rendered.group), seq, rendered, live);
      return true;
    }
    if (rendered.group) this.groups.set(rendered.group, { first: seq, latest: seq, node: rendered.node });
    entry.node = rendered.node;
    rendered.node.dataset.seq = String(seq);
    rendered.node.dataset.event = event;
    const stick = !live || mine || this.pinned || this.nearBottom();
    this.insert(rendered.node, seq);
    if (live) {
      if (rendered.announce) this.live.textContent = rendered.announce;
      if (stick) this.scrollToEnd();
      else this.markUnread(rendered.node);
    }
    return true;
  }

  hasGroup(group) {
    return this.groups.has(group);
  }

  // Another entry of a group: a later one updates its line in place, an earlier one (an
  // older page) moves the line back to where the group began.
  merge(group, seq, rendered, live) {
    if (seq > group.latest) {
      group.latest = seq;
      this.swapGroupNode(group, rendered.node);
      if (live && rendered.final && rendered.announce) this.live.textContent = rendered.announce;
    }
    if (seq < group.first) {
      const before = this.entries.get(group.first);
      if (before) before.node = null;
      this.entries.get(seq).node = group.node;
      group.first = seq;
      group.node.dataset.seq = String(seq);
      group.node.remove();
      this.insert(group.node, seq);
    }
  }

  swapGroupNode(group, node) {
    node.dataset.seq = group.node.dataset.seq;
    node.dataset.event = group.node.dataset.event;
    group.node.replaceWith(node);
    const owner = this.entries.get(Number(group.node.dataset.seq));
    if (owner) owner.node = node;
    group.node = node;
  }

  // The group's line drawn again from its latest entry (e.g. its analysis got its card).
  refreshGroup(group) {
    const known = this.groups.get(group);
    const entry = known && this.entries.get(known.latest);
    if (!entry) return;
    const rendered = this.render(entry.event, entry.payload, this);
    if (rendered) this.swapGroupNode(known, rendered.node);
  }

  replace(seq) {
    const entry = this.entries.get(seq);
    if (!entry) return;
    const rendered = this.render(entry.event, entry.payload, this);
    if (!rendered) return;
    rendered.node.dataset.seq = String(seq);
    rendered.node.dataset.event = entry.event;
    if (entry.node) entry.node.replaceWith(rendered.node);
    entry.node = rendered.node;
  }

  insert(node, seq) {
    // Walk back from the end (new entries are almost always the latest).
    let after = null;
    for (let child = this.list.lastElementChild; child; child = child.previousElementSibling) {
      if (child.dataset.seq && Number(child.dataset.seq) < seq) { after = child; break; }
    }
    if (after) after.after(node);
    else this.list.prepend(node);
  }

  // An outbox line: shown after every logged entry until its chat:added arrives.
  showPending(id, node) {
    const old = this.pending.get(id);
    node.dataset.pending = id;
    if (old) old.replaceWith(node);
    else { this.list.append(node); this.scrollToEnd(); }
    this.pending.set(id, node);
  }

  dropPending(id) {
    const node = this.pending.get(id);
    if (node) node.remove();
    this.pending.delete(id);
  }

  markUnread(node) {
    if (this.unread === 0 && this.marker) { this.marker.remove(); this.marker = null; }
    this.unread += 1;
    if (!this.marker) {
      this.marker = el("li", { className: "unread-marker", attrs: { "aria-hidden": "true" } },
        el("span", { text: gettext("New") }));
      node.before(this.marker);
    }
    this.jump.hidden = false;
    this.jump.textContent = tf(ngettext("%(count)s new ↓", "%(count)s new ↓", this.unread), { count: this.unread });
  }

  // The marker stays where the unread entries began until the next unread one.
  clearUnread() {
    this.unread = 0;
    this.jump.hidden = true;
  }

  setHasMoreBefore(value) {
    this.hasMoreBefore = Boolean(value);
    this.updateEarlier();
  }

  updateEarlier() {
    this.earlier.hidden = !this.hasMoreBefore;
    this.earlier.disabled = this.loading;
    this.earlier.textContent = this.loading ? gettext("Loading…") : gettext("Load earlier");
  }

  async loadEarlier() {
    const oldest = this.oldestSeq();
    if (this.loading || oldest === null) return;
    this.loading = true;
    this.updateEarlier();
    try {
      const page = await this.loadPage(oldest);
      const height = this.scroller.scrollHeight;
      const top = this.scroller.scrollTop;
      for (const row of page.events) this.add(row.event, row.payload, { live: false });
      // Keep the reader's place: the older entries grow the list above it.
      this.scroller.scrollTop = top + (this.scroller.scrollHeight - height);
      this.hasMoreBefore = page.has_more;
      if (this.onPrepend) this.onPrepend();
    } finally {
      this.loading = false;
      this.updateEarlier();
    }
  }
}
