// Coach-led sync. The leader's own video events (play, pause, seeking/seeked,
// ratechange) become `review:update`s, so whatever moves the leader's player is followed;
// every other player applies the server-stamped `review:state` and keeps to it by
// nudging its playback rate, seeking only when it is far off.

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

export class Sync {
  // `room`: the room's state (room-state.js): who I am, the session, the server's clock.
  constructor({ channel, player, room, onChange = () => {} }) {
    this.channel = channel;
    this.player = player;
    this.video = player.video;
    this.room = room;
    this.onChange = onChange;
    this.state = null; // the latest ReviewState
    this.following = true; // false while a non-leader watches alone
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
    if (!me) return false;
    if (this.state && this.state.leader) return String(this.state.leader.id) === String(me.id);
    return me.session_role === "coach";
  }

  // ---- the leader --------------------------------------------------------------

  leaderMoved(type) {
    if (type === "ratechange" && this.leading && SHARED_RATES.includes(this.video.playbackRate)) {
      this.player.rate = this.video.playbackRate;
    }
    if (!this.leading || !this.player.swing) return;
    this.sendSoon();
  }

  swingChanged() {
    if (this.leading) this.sendSoon();
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
    if (!this.leading || !this.player.swing) return;
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
      this.following = true; // a new leader: everyone follows them
      // A follower's speed may be nudged off the room's; the new leader's is not.
      if (this.leading) this.video.playbackRate = this.player.rate;
      this.onChange();
    }
    return true;
  }

  receive(state) {
    if (!this.remember(state)) return;
    this.apply();
  }

  // The join snapshot: `review` is null until someone has led. Everyone, the leader
  // too (after a reload), starts where the room is.
  reset(review) {
    this.state = null;
    if (review) this.remember(review);
    this.onChange();
    this.apply({ force: true });
  }

  watchAlone() {
    if (this.leading) return;
    this.following = false;
    this.video.playbackRate = this.player.rate;
    this.onChange();
  }

  follow() {
    this.following = true;
    this.onChange();
    this.apply();
  }

  // A viewer's own move: a follower steps out to watch alone.
  intent() {
    if (!this.leading && this.following && this.state) this.watchAlone();
  }

  giveLead(userId) {
    return new Promise((resolve, reject) => {
      this.channel.push("review:lead", { user_id: String(userId) })
        .receive("ok", (reply) => {
          const state = reply && (reply.review || reply.state || reply);
          if (state && typeof state.version === "number" && this.remember(state)) this.apply();
          resolve();
        })
        .receive("error", reject)
        .receive("timeout", () => reject(new Error("timeout")));
    });
  }

  async apply({ force = false } = {}) {
    const state = this.state;
    if (!state || (!force && (this.leading || !this.following))) return;
    this.applying = state;
    if (state.swing_id && state.swing_id !== this.player.swingId) {
      const ok = await this.player.select(state.swing_id);
      if (!ok || this.applying !== state) return; // a newer state took over
    }
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
    if (!state || !state.playing || this.leading || !this.following) return;
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
    const drift = this.video.currentTime * 1000 - target;
    if (Math.abs(drift) > SEEK_DRIFT_MS) {
      this.player.seek(target);
      this.video.playbackRate = state.rate;
    } else if (Math.abs(drift) > DEADBAND_MS) {
      const nudge = Math.max(-MAX_RATE_NUDGE, Math.min(MAX_RATE_NUDGE, -drift / CORRECTION_MS / state.rate));
      this.video.playbackRate = state.rate * (1 + nudge);
    } else if (this.video.playbackRate !== state.rate) {
      this.video.playbackRate = state.rate;
    }
  }
}
