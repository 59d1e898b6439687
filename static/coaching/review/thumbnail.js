// A small picture of an annotation: its shapes drawn as SVG over the swing's poster.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function shapeNodes(shape) {
  const color = /^#[0-9a-f]{6}$/i.test(shape.color || "") ? shape.color : "#e0a526";
  const style = { stroke: color, "stroke-width": 0.012, fill: "none", "stroke-linecap": "round" };
  const p = shape.points || [];
  if ((shape.kind === "line" || shape.kind === "arrow") && p.length >= 2) {
    return [svg("line", { x1: p[0][0], y1: p[0][1], x2: p[1][0], y2: p[1][1], ...style })];
  }
  if (shape.kind === "angle" && p.length >= 3) {
    return [svg("polyline", { points: p.map((q) => q.join(",")).join(" "), ...style })];
  }
  if (shape.kind === "circle" && p.length >= 2) {
    const r = Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]);
    return [svg("circle", { cx: p[0][0], cy: p[0][1], r, ...style })];
  }
  return [];
}

export function annotationThumbnail(annotation, swing) {
  const figure = document.createElement("figure");
  figure.className = "annotation-thumb";
  const box = svg("svg", { viewBox: "0 0 1 1", width: 96, height: 96, role: "img", preserveAspectRatio: "none" });
  const title = svg("title", {});
  title.textContent = annotation.note || "Annotation";
  box.append(title);
  if (swing && swing.poster_url && /^https?:|^\//.test(swing.poster_url)) {
    box.append(svg("image", { href: swing.poster_url, x: 0, y: 0, width: 1, height: 1, preserveAspectRatio: "xMidYMid slice" }));
  } else {
    box.append(svg("rect", { x: 0, y: 0, width: 1, height: 1, fill: "#1b2621" }));
  }
  for (const shape of annotation.shapes || []) box.append(...shapeNodes(shape));
  figure.append(box);
  return figure;
}
