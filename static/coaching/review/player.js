// The swing player: one <video>, our controls (play/pause, scrub, speed, frame step,
// key-frame chips, swing selector) and the keyboard. It only moves its own video;
// `onIntent` is told before a change the viewer asked for, so sync can decide what it
// means (the leader's changes are followed through the video's own events).
import { el } from "../realtime.js";
import { formatSeconds, swingName } from "../i18n.js";

export const DEFAULT_FPS = 30;

const TEXT_ENTRY = /^(INPUT|TEXTAREA|SELECT)$/;

// A key position's chip: the usual names translated, others as "Top of backswing".
function keyFrameLabel(name) {
  const known = {
    address: gettext("Address"),
    takeaway: gettext("Takeaway"),
    top: gettext("Top"),
    transition: gettext("Transition"),
    downswing: gettext("Downswing"),
    impact: gettext("Impact"),
    follow_through: gettext("Follow-through"),
    finish: gettext("Finish"),
  }[name];
  if (known) return known;
  const words = String(name).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export class Player {
  // `swings`: the room's (room-state.js), swing_id -> swing. `controls: false`: only the
  // video and its time (ui: root, screen, video, time), moved by its owner alone (the replay).
  constructor(ui, { swings, onIntent = () => {}, onSwingChange = () => {}, controls = true }) {
    this.ui = ui;
    this.controls = controls;
    this.video = ui.video;
    this.video.muted = true; // the clips are silent; muted playback may start without a click
    this.video.playsInline = true;
    this.onIntent = onIntent;
    this.onSwingChange = onSwingChange;
    this.swings = swings;
    this.keyFrames = new Map(); // swing_id -> {name: ms} from the feedback cards
    this.swing = null;
    this.rate = 1;
    this.scrubbing = false;
    this.bind();
  }

  get swingId() {
    return this.swing ? this.swing.swing_id : null;
  }

  get fps() {
    return (this.swing && this.swing.fps) || DEFAULT_FPS;
  }

  get positionMs() {
    return Math.round(this.video.currentTime * 1000);
  }

  get durationMs() {
    const media = this.video.duration;
    if (Number.isFinite(media) && media > 0) return Math.round(media * 1000);
    return (this.swing && this.swing.duration_ms) || 0;
  }

  get playing() {
    return !this.video.paused && !this.video.ended;
  }

  // ---- swings ----------------------------------------------------------------

  setCardKeyFrames(swingId, keyFrames) {
    if (!swingId || !keyFrames || typeof keyFrames !== "object") return;
    this.keyFrames.set(swingId, keyFrames);
    if (swingId === this.swingId) this.renderKeyFrames();
  }

  renderSwingOptions() {
    const select = this.ui.swingSelect;
    select.replaceChildren(...[...this.swings.values()].map((swing) => el("option", {
      value: swing.swing_id, text: swingName(swing),
    })));
    if (this.swing) select.value = this.swing.swing_id;
    select.parentElement.hidden = this.swings.size < 2;
  }

  // Shows `swingId` (if known and not already shown). Resolves once its metadata is in.
  select(swingId) {
    const swing = this.swings.get(swingId);
    if (!swing) return Promise.resolve(false);
    if (this.swing && this.swing.swing_id === swingId) return this.ready();
    this.swing = swing;
    this.video.pause();
    this.video.poster = swing.poster_url || "";
    this.video.src = swing.video_url;
    this.video.load();
    if (this.controls) this.ui.swingSelect.value = swingId;
    this.renderKeyFrames();
    this.render();
    this.onSwingChange(swing);
    return this.ready();
  }

  ready() {
    if (this.video.readyState >= HTMLMediaElement.HAVE_METADATA) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok) => {
        this.video.removeEventListener("loadedmetadata", onLoad);
        this.video.removeEventListener("error", onError);
        resolve(ok);
      };
      const onLoad = () => done(true);
      const onError = () => done(false);
      this.video.addEventListener("loadedmetadata", onLoad);
      this.video.addEventListener("error", onError);
    });
  }

  renderKeyFrames() {
    if (!this.controls) return;
    const frames = (this.swing && (this.swing.key_frames || this.keyFrames.get(this.swingId))) || {};
    const entries = Object.entries(frames)
      .filter(([, ms]) => typeof ms === "number" && ms >= 0)
      .sort((a, b) => a[1] - b[1]);
    this.ui.keyFrames.replaceChildren(...entries.map(([name, ms]) => el("button", {
      type: "button", className: "chip key-frame", dataset: { ms: String(ms), name },
      text: keyFrameLabel(name),
      attrs: { title: formatSeconds(ms) },
      on: { click: () => this.userSeek(ms, { pause: true }) },
    })));
    this.ui.keyFrames.hidden = !entries.length;
  }

  // ---- what the viewer does ----------------------------------------------------

  userToggle() {
    this.onIntent("play");
    if (this.playing) this.video.pause();
    else this.play();
  }

  userSeek(ms, { pause = false } = {}) {
    this.onIntent("seek");
    if (pause) this.video.pause();
    this.seek(ms);
  }

  userStep(frames) {
    this.onIntent("seek");
    this.video.pause();
    // Land in the middle of the frame, so rounding cannot show its neighbour.
    const frame = Math.floor(this.video.currentTime * this.fps + 1e-3) + frames;
    const last = Math.max(0, Math.floor((this.durationMs / 1000) * this.fps) - 1);
    const target = (Math.min(Math.max(frame, 0), last) + 0.5) / this.fps;
    this.seek(target * 1000);
  }

  userRate(rate) {
    this.onIntent("rate");
    this.setRate(rate);
  }

  userSelect(swingId) {
    this.onIntent("swing");
    return this.select(swingId);
  }

  // ---- used by sync, compare and the annotation list -----------------------------

  // The chosen speed. (A follower's video may run slightly off it while it catches up.)
  setRate(rate) {
    this.rate = rate;
    this.video.defaultPlaybackRate = rate; // kept when a new source loads
    this.video.playbackRate = rate;
    this.render();
  }

  play() {
    const started = this.video.play();
    if (started) started.catch(() => {}); // interrupted by a pause or a new source: fine
  }

  seek(ms) {
    const max = this.durationMs ? this.durationMs / 1000 : Infinity;
    this.video.currentTime = Math.min(Math.max(ms / 1000, 0), max);
  }

  // ---- controls ------------------------------------------------------------------

  bind() {
    const { video } = this;
    for (const type of ["play", "pause", "seeked", "ratechange", "loadedmetadata", "durationchange", "ended"]) {
      video.addEventListener(type, () => this.render());
    }
    video.addEventListener("timeupdate", () => { if (!this.scrubbing) this.renderTime(); });
    const tick = () => {
      if (this.playing) this.renderTime();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    if (this.controls) this.bindControls();
  }

  bindControls() {
    const { ui } = this;
    ui.play.addEventListener("click", () => this.userToggle());
    ui.stepBack.addEventListener("click", () => this.userStep(-1));
    ui.stepForward.addEventListener("click", () => this.userStep(1));
    for (const button of ui.rates) {
      button.addEventListener("click", () => this.userRate(Number(button.dataset.rate)));
    }
    ui.scrub.addEventListener("input", () => {
      this.scrubbing = true;
      this.userSeek(Number(ui.scrub.value), { pause: true });
    });
    ui.scrub.addEventListener("change", () => { this.scrubbing = false; });
    ui.swingSelect.addEventListener("change", () => this.userSelect(ui.swingSelect.value));
    ui.screen.addEventListener("dblclick", () => this.userToggle());

    // Space plays or pauses, ←/→ step a frame: on the player, or anywhere on the page
    // that is not a place to type or a button of its own.
    document.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey || !this.swing) return;
      const target = event.target;
      const inPanel = ui.root.contains(target);
      // From the page itself only while the player is on screen (not behind another tab).
      const free = (target === document.body || target === document.documentElement)
        && ui.screen.offsetParent !== null;
      if (!inPanel && !free) return;
      const onScrub = target === ui.scrub;
      if (event.key === " " && (free || target === ui.screen || onScrub)) {
        event.preventDefault();
        this.userToggle();
      } else if ((event.key === "ArrowLeft" || event.key === "ArrowRight")
        && (free || onScrub || !(TEXT_ENTRY.test(target.tagName) || target.tagName === "BUTTON"))) {
        event.preventDefault();
        this.userStep(event.key === "ArrowLeft" ? -1 : 1);
      }
    });
  }

  render() {
    if (this.controls) this.renderControls();
    this.renderTime();
  }

  renderControls() {
    const { ui } = this;
    const playing = this.playing;
    const label = playing ? gettext("Pause the swing") : gettext("Play the swing");
    ui.play.setAttribute("aria-label", label);
    ui.play.dataset.playing = String(playing);
    ui.play.title = `${label} (${gettext("Space")})`;
    for (const button of ui.rates) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.rate) === this.rate));
    }
    const duration = this.durationMs;
    ui.scrub.max = String(duration || 0);
    ui.scrub.disabled = !this.swing;
    for (const button of [ui.play, ui.stepBack, ui.stepForward, ...ui.rates]) button.disabled = !this.swing;
  }

  renderTime() {
    const position = this.positionMs;
    if (this.controls) {
      if (!this.scrubbing) this.ui.scrub.value = String(position);
      this.ui.scrub.setAttribute("aria-valuetext", formatSeconds(position));
    }
    this.ui.time.textContent = `${formatSeconds(position)} / ${formatSeconds(this.durationMs)}`;
  }
}
