// The lesson room's state, one copy for the page: who I am, the session's state, its
// swings, the server's clock, and the seq (and eid) the page is current to. session.js
// feeds it the join replies and the channel's logged events; the room and the review
// panel read it and listen to it:
//   on("session", (state, {from, live}))  the session's state, from a join or live
//   on("swing", (swing))                  a swing of the session, from a join or live
//   on("join", (reply, {snapshot, diverged}))  after every ok join; `snapshot`: the page
//                                         starts over from the reply (else the missed events
//                                         follow); `diverged`: because the server lost events
//                                         the page showed (docs/protocol.md, Recovery)
//   on("event", (event, payload))         a live logged event: once each, in seq order

export class RoomState {
  // `me`: {id, role, name, session_role} as rendered with the page, until a join confirms it.
  constructor({ me, createdAt }) {
    this.me = me;
    this.createdAt = createdAt; // the page's, for a state that comes without it
    this.session = null; // the current session:state
    this.swings = new Map(); // swing_id -> swing, in the order they became known
    this.lastSeq = null; // the highest seq applied; sent as last_seq on a rejoin
    this.lastEid = null; // the eid of the event at lastSeq; sent as last_eid
    this.serverOffset = 0; // server time − local time, from the join replies' server_time
    this.listeners = { session: [], swing: [], join: [], event: [] };
  }

  get role() {
    return this.me ? this.me.session_role : null;
  }

  get ended() {
    return Boolean(this.session && this.session.status === "ended");
  }

  serverNow() {
    return Date.now() + this.serverOffset;
  }

  swing(swingId) {
    return this.swings.get(String(swingId)) || null;
  }

  on(type, listener) {
    this.listeners[type].push(listener);
  }

  emit(type, ...args) {
    for (const listener of this.listeners[type]) listener(...args);
  }

  // The (re)join's params: only the events after the seq we are current to should follow,
  // if the server's event at that seq is still the one we have (else a fresh snapshot).
  joinParams() {
    if (this.lastSeq === null) return {};
    return this.lastEid ? { last_seq: this.lastSeq, last_eid: this.lastEid } : { last_seq: this.lastSeq };
  }

  // The server refused our last_seq: the next join starts over from a snapshot.
  forgetSeq() {
    this.lastSeq = null;
    this.lastEid = null;
  }

  join(reply) {
    this.me = reply.you || this.me;
    if (typeof reply.server_time === "number") this.serverOffset = reply.server_time - Date.now();
    const snapshot = !(reply.recovery && reply.recovery.mode === "replay" && this.lastSeq !== null);
    const diverged = Boolean(reply.recovery && reply.recovery.reason === "diverged");
    if (snapshot) {
      this.lastSeq = typeof reply.last_seq === "number" ? reply.last_seq : 0;
      this.lastEid = reply.last_eid || null;
    }
    for (const swing of reply.swings || []) this.addSwing(swing);
    if (reply.session) this.setSession(reply.session, { from: snapshot ? null : this.session, live: false });
    this.emit("join", reply, { snapshot, diverged });
  }

  // A logged event from the channel: applied once, and only if it is newer than what we have.
  receive(event, payload) {
    const seq = payload ? payload.seq : undefined;
    if (typeof seq === "number") {
      if (this.lastSeq !== null && seq <= this.lastSeq) return;
      this.lastSeq = seq;
      this.lastEid = payload.eid || null;
    }
    if (event === "session:state") this.setSession(payload, { from: this.session, live: true });
    else if (event === "swing:added") this.addSwing(payload.swing);
    this.emit("event", event, payload);
  }

  setSession(next, { from, live }) {
    this.session = { created_at: this.createdAt, ...next };
    this.emit("session", this.session, { from, live });
  }

  addSwing(swing) {
    if (!swing || !swing.swing_id) return;
    this.swings.set(String(swing.swing_id), swing);
    this.emit("swing", swing);
  }
}
