// Film a swing in the room (issue 18, item 5): the lesson's student or coach records with
// the camera (camera.js; a phone without MediaRecorder opens its own camera app) or picks a
// clip, and it uploads resumably (uploader.js) with its duration and poster (clip.js). The
// swing then reaches both screens as `swing:added`, like any other.
/* global gettext */
import { formatPercent, tf } from "../i18n.js";
import { Camera, canFilm } from "./camera.js";
import { clipType, describeClip } from "./clip.js";
import { SwingUpload } from "./uploader.js";

function refusal(err) {
  switch (err && err.code) {
    case "too_large": return gettext("The video is too large to upload.");
    case "unsupported_type": return gettext("This file is not a video the lesson takes (MP4, MOV or WebM).");
    case "session_ended": return gettext("The lesson has ended: no more swings can be added.");
    case "forbidden": return gettext("Only the lesson's student and coach add swings.");
    default: return (err && err.message) || gettext("The upload failed.");
  }
}

// `onUploaded(swing)`: the swing is attached (the review puts it on screen).
export function mountUpload({ root, api, room, onUploaded }) {
  const one = (role) => root.querySelector(`[data-role="${role}"]`);
  const ui = {
    details: one("details"), film: one("film"), pick: one("pick"), capture: one("capture"), camera: one("camera"),
    preview: one("preview"), record: one("record"), close: one("close"), progress: one("progress"),
    bar: one("bar"), status: one("status"), cancel: one("cancel"), error: one("error"),
  };
  const camera = new Camera(ui.preview);
  let upload = null;

  const showError = (text) => { ui.error.textContent = text; ui.error.hidden = !text; };
  const setBusy = (busy) => {
    ui.film.disabled = busy;
    ui.pick.disabled = busy;
  };

  function update() {
    const canAdd = (room.role === "student" || room.role === "coach") && room.session && !room.ended;
    root.hidden = !canAdd && !upload;
    if (room.ended && camera.stream) closeCamera();
  }

  function closeCamera() {
    camera.close();
    ui.camera.hidden = true;
    ui.record.setAttribute("aria-pressed", "false");
    ui.record.textContent = gettext("Start recording");
    setBusy(Boolean(upload));
  }

  async function send(file, knownMs = null) {
    showError("");
    ui.details.open = true;
    const contentType = clipType(file);
    if (!contentType) { showError(refusal({ code: "unsupported_type" })); return; }
    setBusy(true);
    ui.progress.hidden = false;
    ui.bar.value = 0;
    ui.status.textContent = gettext("Preparing the video…");
    let described;
    try {
      described = await describeClip(file, knownMs);
    } catch (err) {
      ui.progress.hidden = true;
      setBusy(false);
      showError(gettext("This video cannot be played here. Try another clip."));
      return;
    }
    upload = new SwingUpload({
      api, file, contentType, durationMs: described.durationMs, poster: described.poster,
      onProgress: (sent, size) => {
        const percent = size ? Math.floor((sent / size) * 100) : 0;
        ui.bar.value = percent;
        ui.status.textContent = tf(gettext("Uploading… %(percent)s"), { percent: formatPercent(percent) });
      },
      onRetry: () => {
        ui.status.textContent = tf(
          gettext("Connection lost at %(percent)s: the upload goes on from there when it is back."),
          { percent: formatPercent(ui.bar.value) },
        );
      },
    });
    try {
      const swing = await upload.run();
      ui.status.textContent = gettext("Uploaded: the swing is in the lesson.");
      onUploaded(swing);
    } catch (err) {
      ui.progress.hidden = true;
      if (err.code !== "cancelled") showError(refusal(err));
    } finally {
      upload = null;
      setBusy(false);
      update();
    }
  }

  ui.film.addEventListener("click", async () => {
    showError("");
    if (!canFilm()) { ui.capture.click(); return; }
    try {
      await camera.open();
    } catch (err) {
      showError(gettext("The camera could not be opened. Allow it, or choose a clip instead."));
      return;
    }
    ui.camera.hidden = false;
    setBusy(true);
    ui.record.focus();
  });

  ui.record.addEventListener("click", async () => {
    if (camera.recording) { camera.stop(); return; }
    ui.record.setAttribute("aria-pressed", "true");
    ui.record.textContent = gettext("Stop recording");
    const { file, durationMs } = await camera.record();
    closeCamera();
    send(file, durationMs);
  });
  ui.close.addEventListener("click", () => { closeCamera(); ui.film.focus(); });
  for (const input of [ui.pick, ui.capture]) {
    input.addEventListener("change", () => {
      const [file] = input.files;
      input.value = "";
      if (file) send(file);
    });
  }
  ui.cancel.addEventListener("click", () => { if (upload) upload.cancel(); });

  room.on("session", update);
  room.on("join", update);
  update();
}
