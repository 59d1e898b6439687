// A voice call between the lesson's student and coach, over the session channel:
// call:ring / accept / decline / hangup / status change the room's call state (every
// page gets it as call:state, and in the join's snapshot as `call`); call:signal
// carries the WebRTC offer, answer, candidates and ICE restarts to the other end only.
//
//   the bar (words, buttons, who is speaking or muted) → view.js
//   the RTCPeerConnection (caller offers, ICE restart) → peer.js   ICE servers → ice.js
//   microphone and camera → media.js   speaking → speaking.js
//   recording the call, with both participants' consent → recording.js, recorder.js
//   "always connect voice in my lessons" (this browser) → preference.js
//
// A socket reconnect during a call restarts ICE (the caller offers again, with new
// credentials) instead of hanging up: the server keeps the call for LEAVE_NOTICE_GRACE.
//
//   const call = mountCall({ root, channel, room });  // before the join
//   call.presence(presence);                            // on every presence sync
import { tf } from "../i18n.js";
import { iceServers, renewDelay } from "./ice.js";
import { LocalMedia, MediaError } from "./media.js";
import { PeerLink } from "./peer.js";
import { AutoConnect } from "./preference.js";
import { mountRecording } from "./recording.js";
import { SpeakingMeter } from "./speaking.js";
import { CallView, callText } from "./view.js";

const LIVE = new Set(["ringing", "connecting", "connected", "reconnecting"]);
const IDLE = { state: "idle", call_id: null, caller: null, callee: null, muted: {}, version: -1 };
// A media path gone quiet ("disconnected") often comes back by itself; after this, it's
// reported reconnecting (and the caller restarts ICE).
const DISCONNECTED_REPORT_MS = 2000;
// While the call stays reconnecting the caller offers a restart again this often: signals
// are never stored, so an offer or answer sent while the other's socket was away is lost
// (both sockets drop together when a server process restarts).
const RESTART_RETRY_MS = 4000;
// A restart is not repeated sooner than this (a rejoin and its own report come together).
const RESTART_GAP_MS = 1500;
// How long the bar says how the last call ended before it folds back to Talk.
const ENDED_SHOWN_MS = 10_000;

class Call {
  constructor({ root, channel, room }) {
    Object.assign(this, { root, channel, room });
    this.me = room.me ? String(room.me.id) : "";
    this.state = IDLE;
    this.link = null;
    this.linkCallId = null;
    this.media = new LocalMedia();
    this.preference = new AutoConnect(this.me);
    this.joined = false;
    this.everJoined = false;
    this.otherHere = false;
    this.autoRang = false;
    this.endedHere = false; // a call ended while this page watched (declined, hung up…)
    this.endedAt = -Infinity; // when (performance.now())
    this.accepting = null; // the call_id this page is accepting
    this.muted = false;
    this.camera = false;
    this.needsSound = false;
    this.speaking = { me: false, other: false };
    this.meters = {
      me: new SpeakingMeter((on) => { this.speaking.me = on; this.render(); }),
      other: new SpeakingMeter((on) => { this.speaking.other = on; this.render(); }),
    };
    this.disconnectTimer = null;
    this.renewTimer = null;
    this.retryTimer = null;
    this.clock = null;
    this.view = new CallView(root, {
      talk: () => this.talk(),
      accept: () => this.accept(),
      decline: () => this.push("call:decline"),
      hangup: () => this.push("call:hangup"),
      mute: () => this.setMuted(!this.muted),
      camera: () => this.toggleCamera(),
      sound: () => this.playSound(),
      autoConnect: (on) => { this.preference.on = on; this.maybeAutoRing(); this.render(); },
    });

    channel.on("call:state", (state) => this.apply(state));
    channel.on("call:signal", (signal) => this.signal(signal));
    channel.onError(() => { this.joined = false; this.render(); });
    room.on("join", (reply) => this.onJoin(reply));
    room.on("session", () => { this.maybeAutoRing(); this.render(); });
  }

  get role() {
    const s = this.state;
    if (s.caller && s.caller.id === this.me) return "caller";
    if (s.callee && s.callee.id === this.me) return "callee";
    return null;
  }

  get participant() {
    return this.room.role === "student" || this.room.role === "coach";
  }

  get other() {
    const session = this.room.session;
    if (!session) return null;
    const other = this.room.role === "student" ? session.coach : session.student;
    return other || null;
  }

  get live() {
    return LIVE.has(this.state.state);
  }

  // ---- the server's state ------------------------------------------------------------------

  onJoin(reply) {
    const rejoin = this.everJoined;
    this.joined = true;
    this.everJoined = true;
    if (reply.call) this.apply(reply.call, { snapshot: true });
    // Our socket was away: candidates or offers sent meanwhile may be lost, and a phone
    // that reconnected may be on another network. Restart ICE rather than hang up: the
    // report makes the call reconnecting, which has the caller restart (apply).
    if (rejoin && this.link && this.live) this.report({ connection: "reconnecting" });
    this.render();
  }

  apply(state, { snapshot = false } = {}) {
    if (!snapshot && state.version <= this.state.version) return; // older than what we have
    const before = this.state;
    this.state = state;
    const mine = this.role;
    if (!this.live || !mine || (this.linkCallId && this.linkCallId !== state.call_id)) this.closeLink();
    if (this.live && mine) {
      if (state.state === "ringing" && mine === "callee" && this.preference.on && before.state !== "ringing") this.accept();
      if (state.state !== "ringing" && mine === "caller" && this.linkCallId === state.call_id && !this.link) this.openLink();
      // Someone lost their path or their socket (each report is a new version): the
      // caller restarts ICE, and again while it lasts.
      if (state.state === "reconnecting" && this.link && this.link.caller) this.restartSoon();
    }
    if (LIVE.has(before.state) && state.state === "ended") {
      this.endedHere = true;
      this.endedAt = performance.now();
      setTimeout(() => this.render(), ENDED_SHOWN_MS);
    }
    this.announceMute(before, state);
    if (!this.live) this.maybeAutoRing();
    this.render();
  }

  announceMute(before, state) {
    const other = this.other && String(this.other.id);
    if (!other || !this.role || !before.muted || before.call_id !== state.call_id) return;
    const was = Boolean(before.muted[other]);
    const now = Boolean(state.muted && state.muted[other]);
    if (was === now) return;
    const name = this.other.name;
    this.view.announce(tf(now ? gettext("%(name)s muted their microphone.") : gettext("%(name)s unmuted their microphone."), { name }));
  }

  // A call event; its new state (applied), or null when refused. `quiet`: a report of
  // this page's own (a refusal means the call moved on, which its state will say).
  push(event, payload = {}, { quiet = false } = {}) {
    if (!this.live && event !== "call:ring") return Promise.resolve(null);
    const body = event === "call:ring" ? payload : { call_id: this.state.call_id, ...payload };
    const fail = (message) => { if (!quiet) this.view.showError(message); };
    return new Promise((resolve) => {
      this.channel.push(event, body)
        .receive("ok", (reply) => { if (!quiet) this.view.showError(""); this.apply(reply); resolve(reply); })
        .receive("error", (reply) => {
          // A ring that crossed the other's (both pressed at once) is not an error: theirs rings.
          if (!(event === "call:ring" && reply && reply.reason === "invalid_transition")) {
            fail((reply && reply.message) || gettext("The call could not be changed."));
          }
          resolve(null);
        })
        .receive("timeout", () => { fail(gettext("No answer from the server. Try again.")); resolve(null); });
    });
  }

  report(changes) {
    if (this.live && this.role && this.state.state !== "ringing") this.push("call:status", changes, { quiet: true });
  }

  reportConnectedSoon() {
    if (this.link && this.link.connected && this.state.state !== "connected") this.report({ connection: "connected" });
  }

  // ---- this side's actions ------------------------------------------------------------------

  async talk() {
    if (!(await this.openMicrophone())) return;
    const reply = await this.push("call:ring");
    if (reply) {
      this.linkCallId = reply.call_id; // the link opens once the other accepts
    } else if (this.state.state === "ringing" && this.role === "callee") {
      this.accept(); // both pressed Talk at once: theirs got through, and we want to talk
    } else if (!this.live) {
      this.media.close(); // no call after all: release the microphone
    }
  }

  async accept() {
    const callId = this.state.call_id;
    if (this.accepting === callId) return; // auto-connect and a crossed ring may both accept
    this.accepting = callId;
    if (!(await this.openMicrophone())) {
      this.accepting = null;
      return;
    }
    if (this.state.call_id !== callId || this.state.state !== "ringing") return;
    this.linkCallId = callId;
    await this.openLink();
    await this.push("call:accept");
  }

  async openMicrophone() {
    try {
      await this.media.openMicrophone();
      this.view.showError("");
      return true;
    } catch (err) {
      this.view.showError(err instanceof MediaError ? err.message : String(err));
      return false;
    }
  }

  async openLink() {
    if (this.link) return;
    const callId = this.linkCallId;
    const caller = this.role === "caller";
    const ice = await iceServers();
    const track = await this.media.openMicrophone().catch(() => null);
    if (!track || this.link || this.linkCallId !== callId || !this.live) return;
    const link = new PeerLink({
      ice: { ...ice, fetch: iceServers },
      caller,
      send: (kind, data) => this.sendSignal(callId, kind, data),
      onTrack: (track, stream) => this.remoteTrack(track, stream),
      onConnection: (state) => this.connectionChanged(state),
      onNegotiated: () => { this.reportConnectedSoon(); this.scheduleRenewal(); },
    });
    this.link = link;
    this.muted = false;
    this.meters.me.watch(track);
    this.startClock();
    await link.start(track);
    this.render();
  }

  restartSoon() {
    if (performance.now() - this.link.restartedAt > RESTART_GAP_MS) this.link.restart();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.link && this.state.state === "reconnecting") this.restartSoon();
    }, RESTART_RETRY_MS);
  }

  // The caller restarts ICE before the TURN credential runs out (a lesson longer than
  // its lifetime would lose its relay); the callee renews its own with the restart.
  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const delay = this.link && this.link.caller ? renewDelay(this.link.expiresAt) : null;
    if (delay !== null) this.renewTimer = setTimeout(() => this.link && this.link.restart(), delay);
  }

  sendSignal(callId, kind, data) {
    if (this.state.call_id !== callId || !this.live) return;
    this.channel.push("call:signal", { call_id: callId, kind, data })
      .receive("error", (reply) => console.warn("call:signal refused:", reply && reply.reason));
  }

  signal({ call_id: callId, kind, data }) {
    if (!this.link || callId !== this.linkCallId) return;
    this.link.receive(kind, data);
  }

  connectionChanged(state) {
    clearTimeout(this.disconnectTimer);
    if (state === "connected") {
      this.reportConnectedSoon();
    } else if (state === "failed") {
      this.report({ connection: "reconnecting" });
    } else if (state === "disconnected") {
      this.disconnectTimer = setTimeout(() => {
        if (this.link && this.link.pc.connectionState === "disconnected") this.report({ connection: "reconnecting" });
      }, DISCONNECTED_REPORT_MS);
    }
    this.render();
  }

  remoteTrack(track, stream) {
    if (track.kind === "audio") {
      this.view.audio.srcObject = new MediaStream([track]);
      this.meters.other.watch(track);
      this.playSound();
    } else {
      const video = this.view.remoteVideo;
      video.srcObject = new MediaStream([track]);
      // Frames flow only while the other's camera is on.
      track.onunmute = () => { video.hidden = false; };
      track.onmute = () => { video.hidden = true; };
    }
  }

  // Autoplay may be refused when no tap started the call (auto-connect): ask for one.
  playSound() {
    const played = this.view.audio.play();
    if (played && played.then) {
      played.then(() => { this.needsSound = false; this.render(); })
        .catch(() => { this.needsSound = true; this.render(); });
    }
  }

  setMuted(muted) {
    if (!this.link) return;
    this.muted = muted;
    this.link.setMuted(muted);
    this.report({ muted });
    this.render();
  }

  async toggleCamera() {
    if (!this.link) return;
    if (this.camera) {
      await this.link.setCamera(null);
      this.media.closeCamera();
      this.camera = false;
    } else {
      try {
        const track = await this.media.openCamera();
        await this.link.setCamera(track);
        this.view.localVideo.srcObject = new MediaStream([track]);
        this.camera = true;
      } catch (err) {
        this.view.showError(err instanceof MediaError ? err.message : String(err));
      }
    }
    this.view.localVideo.hidden = !this.camera;
    this.render();
  }

  closeLink() {
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.renewTimer);
    if (this.link) this.link.close();
    this.link = null;
    if (!this.live || this.linkCallId !== this.state.call_id) this.linkCallId = null;
    this.meters.me.stop();
    this.meters.other.stop();
    this.media.close();
    this.camera = false;
    this.muted = false;
    this.needsSound = false;
    this.view.audio.srcObject = null;
    this.view.remoteVideo.srcObject = null;
    this.view.remoteVideo.hidden = true;
    this.view.localVideo.srcObject = null;
    this.view.localVideo.hidden = true;
    clearInterval(this.clock);
    this.clock = null;
  }

  startClock() {
    clearInterval(this.clock);
    this.clock = setInterval(() => this.view.tick(this.model()), 1000);
  }

  // ---- who is here: Talk, and auto-connect ----------------------------------------------------

  // `presence`: the room's Phoenix.Presence, on every sync.
  presence(presence) {
    const other = this.other;
    this.otherHere = Boolean(other && presence.list((id) => id).includes(String(other.id)));
    this.maybeAutoRing();
    this.render();
  }

  // With the choice on, ring once per page when the other participant is here and no call
  // is under way (and not after a call ended while this page was open: declined or hung
  // up, they may not want another).
  maybeAutoRing() {
    if (!this.preference.on || this.autoRang || this.endedHere || !this.otherHere || !this.joined) return;
    if (!this.participant || this.room.ended || this.live) return;
    this.autoRang = true;
    this.talk();
  }

  // ---- drawing ----------------------------------------------------------------------------------

  model() {
    const s = this.state;
    const mine = this.role;
    const other = this.other;
    const people = [{ key: "me", name: gettext("You"), muted: this.muted, speaking: this.speaking.me && !this.muted }];
    if (other) {
      const otherMuted = Boolean(s.muted && s.muted[String(other.id)]);
      people.push({ key: "other", name: other.name, muted: otherMuted, speaking: this.speaking.other && !otherMuted });
    }
    return {
      show: Boolean(this.room.session) && this.participant,
      state: s.state,
      text: s.state === "ended" && !(performance.now() - this.endedAt < ENDED_SHOWN_MS)
        ? "" : callText(s, this.me, { here: Boolean(this.link) || s.state === "ringing" }),
      mine,
      live: this.live,
      here: Boolean(this.link),
      ended: this.room.ended,
      participant: this.participant,
      connectedAt: s.connected_at,
      people,
      muted: this.muted,
      camera: this.camera,
      cameraAvailable: window.matchMedia("(min-width: 900px) and (pointer: fine)").matches,
      needsSound: this.needsSound,
      canTalk: this.participant && !this.live && !this.room.ended && this.joined && this.otherHere,
      autoConnect: this.preference.on,
      serverNow: () => this.room.serverNow(),
    };
  }

  render() {
    this.view.render(this.model());
    if (this.recording) this.recording.update();
  }
}

export function mountCall({ root, channel, room }) {
  const call = new Call({ root, channel, room });
  call.recording = mountRecording({ root, channel, room, call }); // consent, and the coach's recorder
  call.render();
  return { presence: (presence) => call.presence(presence) };
}
