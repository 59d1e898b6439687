// Side by side: a second swing next to the main one. Step each to the frame to line up
// (say both at impact), "Align" fixes the offset, and from then on the second video
// plays, pauses, seeks and changes speed with the main one (on this screen).
import { el } from "../realtime.js";
import { formatSeconds, swingName, tf } from "../i18n.js";
import { DEFAULT_FPS } from "./player.js";

const SEEK_DRIFT_MS = 120;
const CHECK_MS = 200;

export class Compare {
  constructor({ ui, player }) {
    this.ui = ui;
    this.player = player;
    this.main = player.video;
    this.video = ui.compareVideo;
    this.video.muted = true;
    this.video.playsInline = true;
    this.swing = null;
    this.offsetMs = null; // compare time - main time, once aligned
    this.bind();
  }

  bind() {
    const { ui } = this;
    ui.compareToggle.addEventListener("click", () => this.toggle());
    ui.compareSelect.addEventListener("change", () => this.load(ui.compareSelect.value));
    ui.compareBack.addEventListener("click", () => this.step(-1));
    ui.compareForward.addEventListener("click", () => this.step(1));
    ui.align.addEventListener("click", () => this.align());
    for (const type of ["play", "pause", "seeked", "ratechange"]) {
      this.main.addEventListener(type, () => this.follow());
    }
    this.video.addEventListener("seeked", () => this.renderStatus());
    setInterval(() => this.keepUp(), CHECK_MS);
  }

  get open() {
    return !this.ui.compareScreen.hidden;
  }

  // The swings that can go next to the main one.
  renderOptions() {
    const others = [...this.player.swings.values()].filter((s) => s.swing_id !== this.player.swingId);
    this.ui.compareSelect.replaceChildren(...others.map((swing) => el("option", {
      value: swing.swing_id, text: swingName(swing),
    })));
    if (this.swing && others.some((s) => s.swing_id === this.swing.swing_id)) {
      this.ui.compareSelect.value = this.swing.swing_id;
    }
    this.ui.compareTools.hidden = !others.length;
    if (this.player.swing) this.ui.mainLabel.textContent = swingName(this.player.swing);
    if (!others.length && this.open) this.toggle();
  }

  toggle() {
    const open = !this.open;
    this.ui.compareScreen.hidden = !open;
    this.ui.mainLabel.hidden = !open;
    this.ui.compareControls.hidden = !open;
    this.ui.screens.classList.toggle("comparing", open);
    this.ui.compareToggle.setAttribute("aria-pressed", String(open));
    if (open) this.load(this.ui.compareSelect.value);
    else this.video.pause();
  }

  load(swingId) {
    const swing = this.player.swings.get(swingId);
    if (!swing) return;
    this.swing = swing;
    this.offsetMs = null;
    this.video.poster = swing.poster_url || "";
    this.video.src = swing.video_url;
    this.video.load();
    this.ui.compareLabel.textContent = swingName(swing);
    this.renderStatus();
  }

  step(frames) {
    this.offsetMs = null; // choosing a new frame to line up
    this.video.pause();
    const fps = (this.swing && this.swing.fps) || DEFAULT_FPS;
    const frame = Math.floor(this.video.currentTime * fps + 1e-3) + frames;
    this.video.currentTime = Math.max(0, (frame + 0.5) / fps);
    this.renderStatus();
  }

  align() {
    this.offsetMs = this.video.currentTime * 1000 - this.main.currentTime * 1000;
    this.renderStatus();
    this.follow();
  }

  target() {
    return this.main.currentTime * 1000 + this.offsetMs;
  }

  follow() {
    if (!this.open || this.offsetMs === null) return;
    this.video.playbackRate = this.player.rate;
    const target = this.target();
    if (this.main.paused) {
      this.video.pause();
      this.video.currentTime = Math.max(0, target / 1000);
    } else {
      this.video.currentTime = Math.max(0, target / 1000);
      const started = this.video.play();
      if (started) started.catch(() => {});
    }
  }

  keepUp() {
    if (!this.open || this.offsetMs === null || this.main.paused || this.video.seeking) return;
    const drift = this.video.currentTime * 1000 - this.target();
    if (Math.abs(drift) > SEEK_DRIFT_MS) this.video.currentTime = Math.max(0, this.target() / 1000);
    else this.video.playbackRate = this.player.rate * (1 - Math.max(-0.3, Math.min(0.3, drift / 1000)));
  }

  renderStatus() {
    const { offsetMs } = this;
    let text;
    if (offsetMs === null) {
      text = tf(gettext("Step both to the same moment, then align. (This one: %(time)s)"), {
        time: formatSeconds(this.video.currentTime * 1000),
      });
    } else {
      const offset = { offset: formatSeconds(Math.abs(offsetMs)) };
      text = offsetMs >= 0 ? tf(gettext("Aligned: this swing is %(offset)s ahead."), offset)
        : tf(gettext("Aligned: this swing is %(offset)s behind."), offset);
    }
    this.ui.compareStatus.textContent = text;
    this.ui.align.textContent = offsetMs === null ? gettext("Align at these frames") : gettext("Align again");
  }
}
