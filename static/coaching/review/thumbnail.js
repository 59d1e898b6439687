// A small picture of a saved annotation: the swing's frame at the annotation's time
// (the poster when there is one and the video cannot be shown) with the shapes on top.
// Used by the review panel's list, the timeline and the recap.
import { el } from "../realtime.js";
import { formatSeconds, swingName, tf } from "../i18n.js";
import { drawShapes, setFrameSize, shapeCanvas } from "./shapes.js";

export function annotationThumbnail(annotation, swing) {
  const shapes = Array.isArray(annotation.shapes) ? annotation.shapes : [];
  const overlay = shapeCanvas("thumb-shapes");
  overlay.setAttribute("aria-hidden", "true");
  const frame = el("div", { className: "thumb-frame" });
  if (swing && swing.video_url) {
    // A media fragment makes the element show that frame without playing.
    const video = el("video", {
      className: "thumb-media", muted: true, preload: "metadata", playsInline: true,
      src: `${swing.video_url}#t=${(annotation.time_ms || 0) / 1000}`,
      attrs: { "aria-hidden": "true", tabindex: "-1" },
    });
    if (swing.poster_url) video.poster = swing.poster_url;
    video.addEventListener("loadedmetadata", () => {
      setFrameSize(overlay, video.videoWidth, video.videoHeight);
      drawShapes(overlay, shapes);
    });
    frame.append(video);
  } else if (swing && swing.poster_url) {
    const img = el("img", { className: "thumb-media", src: swing.poster_url, alt: "" });
    img.addEventListener("load", () => {
      setFrameSize(overlay, img.naturalWidth, img.naturalHeight);
      drawShapes(overlay, shapes);
    });
    frame.append(img);
  }
  drawShapes(overlay, shapes);
  frame.append(overlay);
  const label = tf(gettext("Drawing at %(time)s on %(swing)s"), {
    time: formatSeconds(annotation.time_ms || 0),
    swing: swingName(swing),
  });
  return el("figure", {
    className: "annotation-thumb",
    dataset: { annotationId: String(annotation.id ?? ""), swingId: String(annotation.swing_id ?? "") },
    attrs: { role: "img", "aria-label": annotation.note ? `${label}: ${annotation.note}` : label },
  }, frame);
}
