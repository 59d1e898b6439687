// Drawing on a paused frame: line, arrow, circle and angle (with its degrees) on an SVG
// layer over the video. Strokes go out as `review:stroke` while they are drawn (at most
// 20 a second) and the other screens draw them as they come; "Save" stores the frame's
// shapes with a note as an annotation (`annotation:save` → `annotation:added`).
import { randomId } from "../realtime.js";
import { tf } from "../i18n.js";
import { annotationProblem, isEmptyShape, MAX_SHAPES, normalizePoint, videoFrameRect } from "./geometry.js";
import { drawShapes, videoOverlay } from "./shapes.js";

const STROKE_INTERVAL_MS = 50;

const toolName = (tool) => ({
  line: gettext("Line"), arrow: gettext("Arrow"), circle: gettext("Circle"), angle: gettext("Angle"),
})[tool];

const problemText = (problem) => ({
  empty: gettext("Draw on the frame or write a note first."),
  too_many_shapes: gettext("Too many shapes on one frame."),
  invalid_shape: gettext("A shape is not valid."),
  note_too_long: gettext("The note is too long."),
})[problem];

export class Drawing {
  // `may()` → {draw, save}: what this viewer may do now.
  constructor({ ui, channel, player, may, me }) {
    this.ui = ui;
    this.channel = channel;
    this.player = player;
    this.video = player.video;
    this.may = may;
    this.me = me;
    this.svg = videoOverlay(player.video, ui.screen, "review-overlay", () => this.render());
    this.tool = null;
    this.shapes = []; // finished shapes on this frame, everyone's
    this.live = new Map(); // stroke_id -> a shape someone else is drawing
    this.current = null; // {id, shape, phase, pressed} being drawn here
    this.lastStroke = 0;
    this.strokeTimer = null;
    this.saving = false;
    this.bind();
  }

  bind() {
    const { ui, svg, video } = this;
    for (const button of ui.tools) {
      button.addEventListener("click", () => this.choose(this.tool === button.dataset.tool ? null : button.dataset.tool));
    }
    ui.clear.addEventListener("click", () => {
      this.wipe();
      this.channel.push("review:clear", {});
    });
    ui.saveForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    svg.addEventListener("pointerdown", (event) => this.down(event));
    svg.addEventListener("pointermove", (event) => this.move(event));
    svg.addEventListener("pointerup", (event) => this.up(event));
    svg.addEventListener("pointercancel", () => this.cancel());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.current) this.cancel();
    });
    // The drawing belongs to the paused frame: playing on leaves it behind.
    video.addEventListener("play", () => this.wipe());
    for (const type of ["play", "pause"]) video.addEventListener(type, () => this.renderTools());

    this.channel.on("review:stroke", (message) => this.receive(message));
    this.channel.on("review:clear", () => this.wipe());
  }

  choose(tool) {
    this.cancel();
    this.tool = tool;
    this.renderTools();
  }

  get active() {
    return Boolean(this.tool) && this.may().draw && this.video.paused && Boolean(this.player.swing);
  }

  point(event) {
    return normalizePoint(event.clientX, event.clientY, videoFrameRect(this.video));
  }

  down(event) {
    if (!this.active || event.button > 0) return;
    event.preventDefault();
    this.svg.setPointerCapture(event.pointerId);
    const p = this.point(event);
    if (this.current && this.current.phase === 2) {
      // The angle's second arm: press (or tap) where it ends.
      this.current.shape.points[2] = p;
      this.current.pressed = true;
    } else {
      const kind = this.tool;
      this.current = {
        id: randomId(),
        shape: { kind, points: kind === "angle" ? [p, p, p] : [p, p] },
        phase: 1,
        pressed: true,
      };
    }
    this.strokeSoon();
    this.render();
  }

  move(event) {
    const current = this.current;
    if (!current) return;
    const p = this.point(event);
    const points = current.shape.points;
    if (current.phase === 1) {
      if (!current.pressed) return;
      points[1] = p;
      if (current.shape.kind === "angle") points[2] = p;
    } else {
      points[2] = p; // the second arm follows the pointer until it is placed
    }
    this.strokeSoon();
    this.render();
  }

  up(event) {
    const current = this.current;
    if (!current || !current.pressed) return;
    current.pressed = false;
    if (this.svg.hasPointerCapture(event.pointerId)) this.svg.releasePointerCapture(event.pointerId);
    const [a, b] = current.shape.points;
    if (current.phase === 1 && a[0] === b[0] && a[1] === b[1]) {
      this.cancel(); // a click without a drag draws nothing
      return;
    }
    if (current.shape.kind === "angle" && current.phase === 1) {
      current.phase = 2; // first arm drawn (from its end to the vertex); now the second
      this.renderTools();
      return;
    }
    this.finish();
  }

  finish() {
    const { id, shape } = this.current;
    this.current = null;
    if (this.shapes.length >= MAX_SHAPES) {
      this.showError(problemText("too_many_shapes"));
      this.render();
      return;
    }
    this.shapes.push(shape);
    this.sendStroke(id, shape, true);
    this.render();
  }

  cancel() {
    if (!this.current) return;
    const { id, shape } = this.current;
    this.current = null;
    // Tell the others to drop what they have of it: a done stroke of no length.
    this.sendStroke(id, { ...shape, points: shape.points.map(() => shape.points[0]) }, true);
    this.render();
  }

  strokeSoon() {
    if (this.strokeTimer) return;
    const wait = Math.max(0, this.lastStroke + STROKE_INTERVAL_MS - performance.now());
    this.strokeTimer = setTimeout(() => {
      this.strokeTimer = null;
      if (this.current) this.sendStroke(this.current.id, this.current.shape, false);
    }, wait);
  }

  sendStroke(id, shape, done) {
    this.lastStroke = performance.now();
    const copy = { kind: shape.kind, points: shape.points.map((p) => [...p]) };
    this.channel.push("review:stroke", { stroke_id: id, shape: copy, done });
  }

  receive({ stroke_id: id, shape, done, by }) {
    if (by && this.me() && String(by.id) === String(this.me().id)) return;
    if (!shape || !Array.isArray(shape.points)) return;
    if (done) {
      this.live.delete(id);
      if (!isEmptyShape(shape)) this.shapes.push(shape);
    } else {
      this.live.set(id, shape);
    }
    this.render();
  }

  wipe() {
    this.shapes = [];
    this.live.clear();
    this.current = null;
    this.render();
  }

  // An annotation's shapes on the current frame; the leader's are shown to everyone.
  show(shapes, { share = false } = {}) {
    this.wipe();
    for (const shape of shapes) {
      this.shapes.push(shape);
      if (share) this.sendStroke(randomId(), shape, true);
    }
    this.render();
  }

  save() {
    const note = this.ui.note.value.trim();
    const problem = annotationProblem(this.shapes, note);
    if (problem) {
      this.showError(problemText(problem));
      return;
    }
    if (this.saving || !this.player.swing) return;
    this.saving = true;
    this.showError("");
    this.renderTools();
    const payload = {
      swing_id: this.player.swingId,
      time_ms: this.player.positionMs,
      shapes: this.shapes.map((shape) => ({ ...shape })),
      note,
    };
    const done = () => {
      this.saving = false;
      this.renderTools();
    };
    this.channel.push("annotation:save", payload)
      .receive("ok", () => {
        this.ui.note.value = "";
        this.ui.saved.textContent = gettext("Saved with the lesson.");
        done();
      })
      .receive("error", (reply) => {
        this.showError((reply && reply.message) || gettext("The drawing was not saved."));
        done();
      })
      .receive("timeout", () => {
        this.showError(gettext("No answer from the server. Check the connection and try again."));
        done();
      });
  }

  showError(text) {
    this.ui.drawError.textContent = text;
    this.ui.drawError.hidden = !text;
    if (text) this.ui.saved.textContent = "";
  }

  render() {
    const shapes = [...this.shapes, ...this.live.values()];
    if (this.current) shapes.push(this.current.shape);
    drawShapes(this.svg, shapes);
    this.ui.clear.disabled = !shapes.length || !this.may().draw;
    this.renderTools();
  }

  hint(paused) {
    if (!paused) return gettext("Pause on a frame to draw.");
    if (!this.tool) return gettext("Pick a tool to draw on this frame.");
    if (this.current && this.current.phase === 2) return gettext("Now press where the second arm ends.");
    if (this.tool === "angle") return gettext("Angle: drag the first arm to the vertex, then place the second arm.");
    return tf(gettext("%(tool)s: drag on the video."), { tool: toolName(this.tool) });
  }

  renderTools() {
    const { ui } = this;
    const may = this.may();
    const paused = this.video.paused;
    ui.drawTools.hidden = !may.draw;
    for (const button of ui.tools) {
      button.setAttribute("aria-pressed", String(this.tool === button.dataset.tool));
      button.disabled = !paused || !this.player.swing;
    }
    ui.saveForm.hidden = !may.save;
    ui.save.disabled = this.saving || !paused;
    const hint = this.hint(paused);
    if (ui.drawHint.textContent !== hint) ui.drawHint.textContent = hint; // a live region
    this.svg.classList.toggle("drawing", this.active);
  }
}
