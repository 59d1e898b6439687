// What the room sends with a clip: its type, its duration and a poster frame, read by a
// <video> in the page (the server checks the type from the bytes and, for MP4, the
// duration from the file).
const TYPES = { mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm" };
const POSTER_WIDTH = 640;

// The declared type: the file's own, else from its name's extension; null when not a video
// the server takes.
export function clipType(file) {
  const own = (file.type || "").split(";")[0].trim();
  if (Object.values(TYPES).includes(own)) return own;
  const ext = (file.name || "").split(".").pop().toLowerCase();
  return TYPES[ext] || null;
}

// { durationMs, poster } of a clip; `knownMs` (a recording's own length) when the file
// does not say (MediaRecorder's WebM has no duration).
export function describeClip(file, knownMs = null) {
  return new Promise((resolve, reject) => {
    const video = document.createElement("video");
    const url = URL.createObjectURL(file);
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    const done = (result, error) => {
      URL.revokeObjectURL(url);
      video.removeAttribute("src");
      if (error) reject(error); else resolve(result);
    };
    video.addEventListener("error", () => done(null, new Error("unreadable")), { once: true });
    video.addEventListener("loadeddata", () => {
      const seconds = Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null;
      const durationMs = Math.round(seconds ? seconds * 1000 : (knownMs || 0));
      let poster = null;
      if (video.videoWidth) {
        const canvas = document.createElement("canvas");
        canvas.width = Math.min(POSTER_WIDTH, video.videoWidth);
        canvas.height = Math.round(canvas.width * video.videoHeight / video.videoWidth);
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        poster = canvas.toDataURL("image/jpeg", 0.8);
      }
      if (!durationMs) done(null, new Error("no duration"));
      else done({ durationMs, poster });
    }, { once: true });
    video.src = url;
  });
}
