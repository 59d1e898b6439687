// The call's media path: one RTCPeerConnection. The caller makes every offer (the first
// and each ICE restart) and the callee answers, so offers never cross. Both sides have
// an audio and a video transceiver from the start: muting and the camera are
// replaceTrack on them, never a renegotiation.
//
//   const link = new PeerLink({ ice, caller, send, onTrack, onConnection, onNegotiated });
//   await link.start(microphoneTrack);   // the caller offers at once; the callee waits
//   link.receive(kind, data);            // a call:signal from the other end
//   link.restart();                      // caller: an ICE restart (after a reconnect)
//
// `ice`: {config, expiresAt} as ice.js's iceServers() gives (the first), and that
// function (`ice.fetch`) for fresh servers before each restart, on both sides.
export class PeerLink {
  constructor({ ice, caller, send, onTrack, onConnection, onNegotiated }) {
    Object.assign(this, { caller, send, onTrack, onConnection, onNegotiated });
    this.fetchIce = ice.fetch;
    this.expiresAt = ice.expiresAt;
    this.pc = new RTCPeerConnection(ice.config);
    this.remote = new MediaStream();
    this.track = null;
    this.muted = false;
    this.audio = null; // transceivers
    this.video = null;
    this.waiting = []; // candidates that came before the description they belong to
    this.chain = Promise.resolve(); // one negotiation step at a time
    this.restartedAt = 0;
    this.pc.ontrack = (event) => {
      this.remote.addTrack(event.track);
      this.onTrack(event.track, this.remote);
    };
    this.pc.onicecandidate = (event) => {
      if (event.candidate) this.send("candidate", event.candidate.toJSON());
    };
    this.pc.onconnectionstatechange = () => this.onConnection(this.pc.connectionState);
  }

  get connected() {
    return this.pc.connectionState === "connected";
  }

  step(fn) {
    this.chain = this.chain.then(fn).catch((err) => console.warn("call negotiation:", err));
    return this.chain;
  }

  start(track) {
    this.track = track;
    if (!this.caller) return Promise.resolve();
    return this.step(async () => {
      this.audio = this.pc.addTransceiver(track, { direction: "sendrecv" });
      this.video = this.pc.addTransceiver("video", { direction: "sendrecv" });
      await this.offer(false);
    });
  }

  async offer(iceRestart) {
    // An offer the other end never answered (lost while a socket was down) is dropped.
    if (this.pc.signalingState === "have-local-offer") await this.pc.setLocalDescription({ type: "rollback" });
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    this.send(iceRestart ? "restart" : "offer", { type: offer.type, sdp: offer.sdp });
  }

  // Caller only: new ICE credentials and candidates, on the same call and media.
  restart() {
    if (!this.caller || this.pc.signalingState === "closed") return Promise.resolve();
    this.restartedAt = performance.now();
    return this.step(async () => {
      await this.renewIce();
      await this.offer(true);
    });
  }

  // Fresh ICE servers (TURN credentials) for the candidates a restart gathers.
  async renewIce() {
    const { config, expiresAt } = await this.fetchIce();
    if (this.pc.signalingState === "closed") return;
    this.pc.setConfiguration(config);
    this.expiresAt = expiresAt;
  }

  receive(kind, data) {
    if (kind === "candidate") return this.step(() => this.candidate(data));
    if (kind === "answer" && this.caller) return this.step(() => this.answered(data));
    if (kind === "offer" && !this.caller) return this.step(() => this.answer(data));
    if (kind === "restart" && !this.caller) {
      return this.step(async () => {
        await this.renewIce();
        await this.answer(data);
      });
    }
    return Promise.resolve();
  }

  async answer(description) {
    await this.pc.setRemoteDescription(description);
    if (!this.audio) {
      for (const transceiver of this.pc.getTransceivers()) {
        const kind = transceiver.receiver.track.kind;
        transceiver.direction = "sendrecv";
        if (kind === "audio" && !this.audio) this.audio = transceiver;
        if (kind === "video" && !this.video) this.video = transceiver;
      }
      await this.audio.sender.replaceTrack(this.muted ? null : this.track);
    }
    await this.flush();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.send("answer", { type: answer.type, sdp: answer.sdp });
    this.onNegotiated();
  }

  async answered(description) {
    if (this.pc.signalingState !== "have-local-offer") return; // an answer to an offer since dropped
    await this.pc.setRemoteDescription(description);
    await this.flush();
    this.onNegotiated();
  }

  async candidate(data) {
    if (!data) return;
    if (!this.pc.remoteDescription) {
      this.waiting.push(data);
      return;
    }
    // A candidate of an ICE generation a restart has replaced is refused: nothing lost.
    await this.pc.addIceCandidate(data).catch(() => {});
  }

  async flush() {
    const waiting = this.waiting;
    this.waiting = [];
    for (const data of waiting) await this.pc.addIceCandidate(data).catch(() => {});
  }

  // Muted: no audio leaves this side at all (no packets), not only silence.
  setMuted(muted) {
    this.muted = muted;
    if (this.track) this.track.enabled = !muted;
    if (this.audio) return this.audio.sender.replaceTrack(muted ? null : this.track);
    return Promise.resolve();
  }

  setCamera(track) {
    return this.video ? this.video.sender.replaceTrack(track) : Promise.resolve();
  }

  close() {
    this.pc.close();
    for (const track of this.remote.getTracks()) track.stop();
  }
}
