// This side's microphone (and, on a laptop, camera). The range is noisy: echo
// cancellation, noise suppression and gain control on.
export const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export class MediaError extends Error {}

// Why a device could not be had, in the reader's words.
function failure(err, device) {
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
    return device === "camera"
      ? gettext("The camera is blocked. Allow it in the browser's site settings.")
      : gettext("The microphone is blocked. Allow it in the browser's site settings.");
  }
  return device === "camera"
    ? gettext("No camera could be opened.")
    : gettext("No microphone could be opened.");
}

async function open(constraints, device) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new MediaError(gettext("This browser cannot make calls (it needs a secure connection)."));
  }
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    throw new MediaError(failure(err, device));
  }
}

export class LocalMedia {
  constructor() {
    this.audio = null;
    this.camera = null;
  }

  async openMicrophone() {
    if (!this.audio || this.audio.readyState === "ended") {
      [this.audio] = (await open({ audio: AUDIO, video: false }, "microphone")).getAudioTracks();
    }
    return this.audio;
  }

  async openCamera() {
    const stream = await open({ audio: false, video: { width: { ideal: 640 }, height: { ideal: 360 } } }, "camera");
    [this.camera] = stream.getVideoTracks();
    return this.camera;
  }

  closeCamera() {
    if (this.camera) this.camera.stop();
    this.camera = null;
  }

  close() {
    this.closeCamera();
    if (this.audio) this.audio.stop();
    this.audio = null;
  }
}
