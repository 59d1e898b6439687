// Led sync. The leader's own video events (play, pause, seeking/seeked, ratechange) and
// compare changes become `review:update`s, so whatever moves the leader's player is
// followed; every other player applies the server-stamped `review:state` (the compared
// swing too) and keeps to it by nudging its playback rate, seeking only when it is far off.
// Watching alone is told to the server (`review:alone`), so the leader sees it and can
// bring the viewer back; the student asks for the lead here too.
//
// What this viewer does with the review, `mode`:
//   "leading"    the room follows my player
//   "following"  my player follows the leader's
//   "alone"      someone leads, I watch on my own (the leader sees it)
//   "solo"       nobody leads (no coach yet) or I only preview: my player is my own
//   "replay"     the lesson has ended: everyone replays on their own

export const UPDATE_INTERVAL_MS = 50; // at most 20 review:update a second (scrubbing)
export const SEEK_DRIFT_MS = 250; // further off than this: seek; closer: adjust the rate
const DEADBAND_MS = 8; // close enough: play at the leader's rate
const CORRECTION_MS = 1000; // remove a small drift over about a second
const MAX_RATE_NUDGE = 0.3; // never more than ±30 % off the leader's rate
const CHECK_MS = 200;
export const SHARED_RATES = [0.25, 0.5, 1, 2]; // the speeds the server accepts

// Where the leader's video is at `serverNow` according to `state`.
export function livePosition(state, serverNow) {
  const elapsed = state.playing ? Math.max(0, serverNow - state.server_ts) * state.rate : 0;
  return state.position_ms + elapsed;
}

// What a playing follower does about its drift (its position minus the target, ms) at
// `rate`: null, seek to the target; else the playback rate that takes the drift away.
export function catchUpRate(driftMs, rate) {
  if (Math.abs(driftMs) > SEEK_DRIFT_MS) return null;
  if (Math.abs(driftMs) <= DEADBAND_MS) return rate;
  return rate * (1 + Math.max(-MAX_RATE_NUDGE, Math.min(MAX_RATE_NUDGE, -driftMs / CORRECTION_MS / rate)));
}

const sameId = (a, b) => Boolean(a && b) && String(a.id) === String(b.id);

export class Sync {
  // `room`: the room's state (room-state.js): who I am, the session, the server's clock.
  constructor({ channel, player, room, onChange = () => {} }) {
    this.channel = channel;
    this.player = player;
    this.video = player.video;
    this.room = room;
    this.onChange = onChange;
    this.state = null; // the latest ReviewState
    this.compare = null; // the side-by-side view (compare.js), set by the panel
    this.wish = null; // watching alone (true) or following (false), until the server has it
    this.wishes = 0; // pushes of `review:alone` sent; only the latest one's answer counts
    this.aloneHere = false; // an observer's watching alone, which the server is not told
    this.joins = 0;
    this.lastSent = 0;
    this.oneWayMs = 0; // half the round trip of our last review:updates
    this.sendTimer = null;
    this.applying = null; // the state being applied (a swing may still be loading)

    // `playing`: the moment frames really start to move, a better anchor than `play`.
    for (const type of ["play", "playing", "pause", "seeked", "ratechange"]) {
      this.video.addEventListener(type, () => this.leaderMoved(type));
    }
    // Scrubbing: the seeks follow each other without a `seeked` in between.
    this.video.addEventListener("seeking", () => this.leaderMoved("seeking"));
    setInterval(() => this.keepUp(), CHECK_MS);
    channel.on("review:state", (state) => this.receive(state));
  }

  get leader() {
    if (this.state && this.state.leader) return this.state.leader;
    const session = this.room.session;
    return session && session.coach ? session.coach : null;
  }

  // Before the server has a review state, the coach leads.
  get leading() {
    const me = this.room.me;
    if (!me || this.room.ended) return false;
    if (this.state && this.state.leader) return sameId(this.state.leader, me);
    return me.session_role === "coach" && Boolean(this.leader);
  }

  // The coach and the student tell the leader when they watch alone; observers do not.
  get tells() {
    return this.room.role === "coach" || this.room.role === "student";
  }

  get alone() {
    if (!this.tells) return this.aloneHere;
    if (this.wish !== null) return this.wish;
    return this.listed("alone", this.room.me);
  }

  get mode() {
    if (this.room.ended) return "replay";
    if (this.room.role === "preview" || !this.leader) return "solo";
    if (this.leading) return "leading";
    return this.alone ? "alone" : "following";
  }

  get following() {
    return this.mode === "following";
  }

  // Who watches alone, as the server has it (not me).
  get others() {
    const me = this.room.me;
    return ((this.state && this.state.alone) || []).filter((viewer) => !sameId(viewer, me));
  }

  // Who asks for the lead (the student), or null.
  get request() {
    return (this.state && this.state.lead_request) || null;
  }

  listed(field, person) {
    const list = (this.state && this.state[field]) || [];
    return Boolean(person) && list.some((entry) => sameId(entry, person));
  }

  // ---- the leader --------------------------------------------------------------

  leaderMoved(type) {
    if (type === "ratechange" && this.leading && SHARED_RATES.includes(this.video.playbackRate)) {
      this.player.rate = this.video.playbackRate;
    }
    if (this.mode !== "leading" || !this.player.swing) return;
    this.sendSoon();
  }

  swingChanged() {
    if (this.mode === "leading") this.sendSoon();
  }

  // The current state of this player, at most every UPDATE_INTERVAL_MS (the last one always goes).
  sendSoon() {
    if (this.sendTimer) return;
    const wait = Math.max(0, this.lastSent + UPDATE_INTERVAL_MS - performance.now());
    if (wait === 0) {
      this.sendNow();
      return;
    }
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null;
      this.sendNow();
    }, wait);
  }

  sendNow() {
    if (this.mode !== "leading" || !this.player.swing) return;
    const sentAt = performance.now();
    this.lastSent = sentAt;
    const playing = this.player.playing;
    const rate = this.player.rate;
    // The server stamps the update when it arrives; by then a playing video has moved on.
    const ahead = playing ? this.oneWayMs * rate : 0;
    const update = {
      swing_id: this.player.swingId,
      playing,
      position_ms: Math.round(this.player.positionMs + ahead),
      rate,
    };
    if (this.compare) update.compare = this.compare.shared();
    this.channel.push("review:update", update)
      .receive("ok", (reply) => {
        const oneWay = (performance.now() - sentAt) / 2;
        this.oneWayMs = this.oneWayMs ? this.oneWayMs * 0.7 + oneWay * 0.3 : oneWay;
        const state = reply && (reply.review || reply.state || reply);
        if (state && typeof state.version === "number") this.remember(state);
      });
  }

  // ---- everyone else -------------------------------------------------------------

  remember(state) {
    if (this.state && typeof state.version === "number" && state.version < this.state.version) return false;
    const leaderChanged = !this.state || !this.state.leader || !state.leader
      || String(this.state.leader.id) !== String(state.leader.id);
    this.state = state;
    if (leaderChanged) {
      // A new leader: everyone follows them.
      this.wish = null;
      this.aloneHere = false;
      // A follower's speed may be nudged off the room's; the new leader's is not.
      if (this.leading) this.video.playbackRate = this.player.rate;
    }
    this.onChange();
    return true;
  }

  receive(state) {
    if (!this.remember(state)) return;
    this.apply();
  }

  // The join snapshot: `review` is null until someone has led. Everyone, the leader
  // too (after a reload), starts where the room is; a page opened anew follows, even if
  // the room still has its user watching alone (from a page closed meanwhile).
  reset(review) {
    this.state = null;
    this.joins += 1;
    if (review) this.remember(review);
    this.onChange();
    if (this.joins === 1 && this.tells && this.mode === "alone" && this.wish === null) this.setAlone(false);
    else this.apply({ force: true });
  }

  // Watch alone (true) or follow the leader again (false); the leader is told.
  setAlone(alone) {
    const mode = this.mode;
    if (mode !== "following" && mode !== "alone") return;
    if (this.tells) {
      this.wish = alone;
      const push = ++this.wishes;
      const settle = (state) => {
        if (push !== this.wishes) return;
        this.wish = null;
        if (state && typeof state.version === "number") this.remember(state);
        else this.onChange(); // refused: as the server has it
        this.apply();
      };
      this.channel.push("review:alone", { alone })
        .receive("ok", (state) => settle(state))
        .receive("error", () => settle(null))
        .receive("timeout", () => settle(null));
    } else {
      this.aloneHere = alone;
    }
    if (alone) this.video.playbackRate = this.player.rate;
    this.onChange();
    this.apply();
  }

  watchAlone() {
    this.setAlone(true);
  }

  follow() {
    this.setAlone(false);
  }

  // A viewer's own move: a follower steps out to watch alone.
  intent() {
    if (this.mode === "following") this.watchAlone();
  }

  // A review push whose answer is the new state: resolves once applied, rejects with the
  // server's error reply (or on a timeout).
  ask(event, payload) {
    return new Promise((resolve, reject) => {
      this.channel.push(event, payload)
        .receive("ok", (state) => {
          if (state && typeof state.version === "number" && this.remember(state)) this.apply();
          resolve(state);
        })
        .receive("error", reject)
        .receive("timeout", () => reject(new Error("timeout")));
    });
  }

  giveLead(userId) {
    return this.ask("review:lead", { user_id: String(userId) });
  }

  askLead({ cancel = false } = {}) {
    return this.ask("review:ask_lead", cancel ? { cancel: true } : {});
  }

  answerLead(accept) {
    return this.ask("review:answer_lead", { accept });
  }

  bringBack(userId) {
    return this.ask("review:bring_back", { user_id: String(userId) });
  }

  async apply({ force = false } = {}) {
    const state = this.state;
    const mode = this.mode;
    if (!state || mode === "replay" || mode === "solo") return;
    if (!force && mode !== "following") return;
    this.applying = state;
    if (state.swing_id && state.swing_id !== this.player.swingId) {
      const ok = await this.player.select(state.swing_id);
      if (!ok || this.applying !== state) return; // a newer state took over
    }
    if (this.compare) this.compare.applyShared(state.compare || null);
    if (this.player.rate !== state.rate) this.player.setRate(state.rate);
    const target = livePosition(state, this.room.serverNow());
    if (state.playing) {
      if (Math.abs(this.player.positionMs - target) > SEEK_DRIFT_MS || this.video.paused) {
        this.player.seek(target);
      }
      if (this.video.paused) this.player.play();
    } else {
      if (!this.video.paused) this.video.pause();
      this.video.playbackRate = state.rate;
      // Paused: show exactly the leader's frame.
      if (Math.abs(this.video.currentTime * 1000 - state.position_ms) > 1) this.player.seek(state.position_ms);
    }
  }

  // While following a playing leader: drift → a gentle rate change, or a seek if far off.
  keepUp() {
    const state = this.state;
    if (!state || !state.playing || !this.following) return;
    if (this.video.seeking || this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) return;
    if (state.swing_id !== this.player.swingId) return;
    const duration = this.player.durationMs;
    const target = livePosition(state, this.room.serverNow());
    if (duration && target >= duration) {
      // The leader has reached the end: so have we.
      if (!this.video.ended) this.player.seek(duration);
      return;
    }
    if (this.video.paused) {
      this.apply();
      return;
    }
    const rate = catchUpRate(this.video.currentTime * 1000 - target, state.rate);
    if (rate === null) {
      this.player.seek(target);
      this.video.playbackRate = state.rate;
    } else if (this.video.playbackRate !== rate) {
      this.video.playbackRate = rate;
    }
  }
}
