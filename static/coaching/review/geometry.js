// Shape geometry shared by the live drawing layer and the annotation thumbnails.
// Coordinates are normalized to the video frame (0..1, origin top-left), so a shape
// drawn on a laptop lands on the same spot of the swing on a phone.

export const SHAPE_KINDS = ["line", "arrow", "angle", "circle"];
export const POINTS_PER_KIND = { line: 2, arrow: 2, angle: 3, circle: 2 };
export const MAX_SHAPES = 50;
export const MAX_NOTE_CHARS = 500;
export const DEFAULT_COLOR = "#ffd400";
const COLOR = /^#[0-9a-fA-F]{6}$/;

export const clamp01 = (value) => Math.min(1, Math.max(0, value));

// The rectangle, relative to the element, where `object-fit: contain` paints the frame
// of a `mediaWidth`×`mediaHeight` video inside a `boxWidth`×`boxHeight` element.
export function contentBox(boxWidth, boxHeight, mediaWidth, mediaHeight) {
  if (!mediaWidth || !mediaHeight || !boxWidth || !boxHeight) {
    return { x: 0, y: 0, width: boxWidth, height: boxHeight };
  }
  const scale = Math.min(boxWidth / mediaWidth, boxHeight / mediaHeight);
  const width = mediaWidth * scale;
  const height = mediaHeight * scale;
  return { x: (boxWidth - width) / 2, y: (boxHeight - height) / 2, width, height };
}

// The video element's painted frame, in client (viewport) coordinates.
export function videoFrameRect(video) {
  const rect = video.getBoundingClientRect();
  const box = contentBox(rect.width, rect.height, video.videoWidth, video.videoHeight);
  return { left: rect.left + box.x, top: rect.top + box.y, width: box.width, height: box.height };
}

// A pointer position → a point of the frame, clamped to it.
export function normalizePoint(clientX, clientY, frameRect) {
  const x = frameRect.width ? (clientX - frameRect.left) / frameRect.width : 0;
  const y = frameRect.height ? (clientY - frameRect.top) / frameRect.height : 0;
  return [round4(clamp01(x)), round4(clamp01(y))];
}

// A shape of no length: how a drawer tells the others to drop a stroke it cancelled.
export function isEmptyShape(shape) {
  const [first] = shape.points;
  return shape.points.every((p) => p[0] === first[0] && p[1] === first[1]);
}

const round4 = (value) => Math.round(value * 10000) / 10000;

// The angle at `vertex` between the arms to `a` and `b`, in degrees (0..180), measured
// on the picture: `aspect` (width / height) undoes the normalization's stretching.
export function angleDegrees([a, vertex, b], aspect = 1) {
  const ux = (a[0] - vertex[0]) * aspect;
  const uy = a[1] - vertex[1];
  const vx = (b[0] - vertex[0]) * aspect;
  const vy = b[1] - vertex[1];
  const lengths = Math.hypot(ux, uy) * Math.hypot(vx, vy);
  if (!lengths) return 0;
  const cos = Math.min(1, Math.max(-1, (ux * vx + uy * vy) / lengths));
  return (Math.acos(cos) * 180) / Math.PI;
}

export function formatDegrees(degrees) {
  return `${Math.round(degrees)}°`;
}

function validPoint(point) {
  return Array.isArray(point) && point.length === 2
    && point.every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1);
}

// Whether `shape` is one the server accepts (the same limits as the annotation service).
export function isValidShape(shape) {
  if (!shape || typeof shape !== "object" || !SHAPE_KINDS.includes(shape.kind)) return false;
  if (shape.color !== undefined && !(typeof shape.color === "string" && COLOR.test(shape.color))) {
    return false;
  }
  const points = shape.points;
  return Array.isArray(points) && points.length === POINTS_PER_KIND[shape.kind]
    && points.every(validPoint);
}

// Why an annotation cannot be saved, or null. It needs a shape or a note.
export function annotationProblem(shapes, note) {
  if (!shapes.length && !(note || "").trim()) return "empty";
  if (shapes.length > MAX_SHAPES) return "too_many_shapes";
  if (!shapes.every(isValidShape)) return "invalid_shape";
  if ((note || "").length > MAX_NOTE_CHARS) return "note_too_long";
  return null;
}
