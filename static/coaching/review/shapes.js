// Draws shapes as SVG: the live drawing layer and the thumbnails both use it.
// The SVG's viewBox is the video's own size and keeps its aspect ratio (xMidYMid meet),
// exactly as `object-fit: contain` places the picture, so a normalized point lands on
// the same pixel of the swing whatever the screen.
import { angleDegrees, DEFAULT_COLOR, formatDegrees } from "./geometry.js";

const SVG_NS = "http://www.w3.org/2000/svg";

export function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// An <svg> sized to its container whose user units are the video's pixels.
export function shapeCanvas(className) {
  const svg = svgEl("svg", { class: className, preserveAspectRatio: "xMidYMid meet" });
  setFrameSize(svg, 16, 9);
  return svg;
}

// The drawing layer over `video` (inside `screen`), in the video's own frame size once it
// is known; `onSize()` then draws again in it. Hidden from assistive technology.
export function videoOverlay(video, screen, className, onSize) {
  const svg = shapeCanvas(className);
  svg.setAttribute("aria-hidden", "true");
  screen.append(svg);
  video.addEventListener("loadedmetadata", () => {
    setFrameSize(svg, video.videoWidth, video.videoHeight);
    onSize();
  });
  return svg;
}

export function setFrameSize(svg, width, height) {
  svg.setAttribute("viewBox", `0 0 ${width || 16} ${height || 9}`);
  svg.dataset.width = String(width || 16);
  svg.dataset.height = String(height || 9);
}

function frameSize(svg) {
  return { width: Number(svg.dataset.width) || 16, height: Number(svg.dataset.height) || 9 };
}

// The <g> for one shape, in `svg`'s frame size. `stroke` scales with the picture.
export function shapeNode(shape, svg) {
  const { width, height } = frameSize(svg);
  const unit = Math.max(width, height) / 200; // a stroke about 0.5 % of the long side
  const px = ([x, y]) => [x * width, y * height];
  const color = shape.color || DEFAULT_COLOR;
  const group = svgEl("g", {
    class: `shape shape-${shape.kind}`, stroke: color, fill: "none",
    "stroke-width": unit, "stroke-linecap": "round", "stroke-linejoin": "round",
  });
  group.dataset.kind = shape.kind;
  const points = shape.points.map(px);
  if (shape.kind === "line" || shape.kind === "arrow") {
    const [[x1, y1], [x2, y2]] = points;
    group.append(svgEl("line", { x1, y1, x2, y2 }));
    if (shape.kind === "arrow") group.append(arrowHead(x1, y1, x2, y2, unit * 5));
  } else if (shape.kind === "circle") {
    const [[cx, cy], [ex, ey]] = points;
    group.append(svgEl("circle", { cx, cy, r: Math.hypot(ex - cx, ey - cy) }));
  } else if (shape.kind === "angle") {
    const [a, v, b] = points;
    group.append(svgEl("polyline", { points: [a, v, b].map((p) => p.join(",")).join(" ") }));
    const degrees = angleDegrees(shape.points, width / height);
    group.append(angleLabel(v, a, b, formatDegrees(degrees), unit, color));
  }
  return group;
}

function arrowHead(x1, y1, x2, y2, size) {
  const angle = Math.atan2(y2 - y1, x2 - x1);
  const wing = (offset) => [x2 - size * Math.cos(angle + offset), y2 - size * Math.sin(angle + offset)];
  const [lx, ly] = wing(Math.PI / 7);
  const [rx, ry] = wing(-Math.PI / 7);
  return svgEl("polyline", { points: `${lx},${ly} ${x2},${y2} ${rx},${ry}` });
}

// The degrees, set off the vertex on the outside of the angle, on a dark plate.
function angleLabel(v, a, b, text, unit, color) {
  const dir = (p) => {
    const len = Math.hypot(p[0] - v[0], p[1] - v[1]) || 1;
    return [(p[0] - v[0]) / len, (p[1] - v[1]) / len];
  };
  const [ax, ay] = dir(a);
  const [bx, by] = dir(b);
  let [mx, my] = [-(ax + bx), -(ay + by)];
  const mlen = Math.hypot(mx, my);
  if (mlen < 1e-6) [mx, my] = [0, -1];
  else [mx, my] = [mx / mlen, my / mlen];
  const size = unit * 7;
  const x = v[0] + mx * size * 1.6;
  const y = v[1] + my * size * 1.6;
  const label = svgEl("g", { class: "angle-label" });
  label.append(svgEl("rect", {
    x: x - size * 1.45, y: y - size * 0.75, width: size * 2.9, height: size * 1.5,
    rx: size * 0.3, fill: "rgba(0,0,0,.65)", stroke: "none",
  }));
  const textNode = svgEl("text", {
    x, y, fill: color, stroke: "none", "font-size": size, "font-weight": 700,
    "text-anchor": "middle", "dominant-baseline": "central",
  });
  textNode.textContent = text;
  label.append(textNode);
  return label;
}

export function drawShapes(svg, shapes) {
  svg.replaceChildren(...shapes.map((shape) => shapeNode(shape, svg)));
}
