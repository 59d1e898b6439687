// Recording the call, with both participants' consent (issue 18, item 4): the question
// asked once per lesson of each ("May this lesson's call be recorded?"), each one's answer
// shown to both while the lesson lasts and changeable (GET/PUT …/recording-consent/, the
// room hears `recording:consent`), "Recording" while it happens, and — in the coach's
// page — the recorder (recorder.js), which runs only while both consent and the call is
// connected, and stops at once on a withdrawal. The server refuses every chunk without
// both consents: the page is not what keeps the rule.
//
//   const recording = mountRecording({ root, channel, room, call });  // call: index.js's
//   recording.update();                                               // on every call render
import { apiFetch, el } from "../realtime.js";
import { tf } from "../i18n.js";
import { CallRecorder, canRecord } from "./recorder.js";

const RECORDED = new Set(["connected", "reconnecting"]);

function answerText(name, answer) {
  if (answer === true) return tf(gettext("%(name)s: agrees"), { name });
  if (answer === false) return tf(gettext("%(name)s: does not agree"), { name });
  return tf(gettext("%(name)s: not asked yet"), { name });
}

class Recording {
  constructor({ root, channel, room, call }) {
    Object.assign(this, { channel, room, call });
    this.api = `/api/sessions/${encodeURIComponent(channel.topic.replace(/^session:/, ""))}`;
    this.consent = null; // {student, coach, recording, server_ts}
    this.recorder = null;
    this.busy = false;
    const button = (text, className, onClick) => el("button", { type: "button", className, text, on: { click: onClick } });
    this.question = el("div", { className: "recording-question" },
      el("p", { className: "recording-ask", text: gettext("May this lesson's call be recorded?") }),
      el("p", { className: "muted recording-why", text: gettext("It is recorded only if both of you agree. You can change your answer while the lesson lasts.") }),
      el("div", { className: "call-buttons" },
        button(gettext("Allow recording"), "btn btn-small btn-primary", () => this.answer(true)),
        button(gettext("Don't record"), "btn btn-small", () => this.answer(false))));
    this.badge = el("span", { className: "recording-badge", text: gettext("Recording") });
    this.answers = el("span", { className: "recording-answers muted" });
    this.toggle = button("", "btn btn-small recording-toggle", () => this.answer(!this.mine));
    this.error = el("p", { className: "form-error", attrs: { role: "alert" }, hidden: true });
    this.status = el("p", { className: "recording-status", attrs: { role: "status" } }, this.badge, this.answers);
    this.root = el("div", { className: "call-recording", attrs: { "aria-label": gettext("Call recording"), role: "group" } },
      this.question, el("div", { className: "recording-line" }, this.status, this.toggle), this.error);
    root.append(this.root);
    channel.on("recording:consent", (state) => this.apply(state));
    room.on("join", () => this.load());
    room.on("session", () => this.update());
  }

  get participant() {
    return this.room.role === "student" || this.room.role === "coach";
  }

  get mine() {
    return this.consent ? this.consent[this.room.role] : null;
  }

  async load() {
    if (!this.participant) return;
    try {
      this.apply(await apiFetch("GET", `${this.api}/recording-consent/`));
    } catch (err) {
      this.showError(err.message);
    }
  }

  apply(state) {
    if (this.consent && state.server_ts < this.consent.server_ts) return; // older than ours
    this.consent = state;
    this.update();
  }

  async answer(consent) {
    if (this.busy) return;
    this.busy = true;
    if (!consent) this.stopRecorder(); // a withdrawal stops this page's recording at once
    try {
      this.apply(await apiFetch("PUT", `${this.api}/recording-consent/`, { consent }));
      this.showError("");
    } catch (err) {
      this.showError(err.message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  // Whether the call is recorded now: both consent and the call's media flows.
  get recording() {
    const c = this.call;
    return Boolean(this.consent && this.consent.recording && RECORDED.has(c.state.state) && c.link && !this.room.ended);
  }

  update() {
    this.render();
    if (this.room.role !== "coach") return;
    const local = this.call.media.audio;
    const remoteStream = this.call.view.audio.srcObject;
    const remote = remoteStream && remoteStream.getAudioTracks()[0];
    if (this.recording && !this.recorder && local && remote && canRecord()) {
      this.recorder = new CallRecorder({
        api: this.api,
        serverNow: () => this.room.serverNow(),
        onStopped: (err) => {
          this.recorder = null;
          this.showError(tf(gettext("The recording stopped: %(message)s"), { message: err.message }));
        },
      });
      this.recorder.start(local, remote);
    } else if (!this.recording && this.recorder) {
      this.stopRecorder();
    }
  }

  stopRecorder() {
    if (!this.recorder) return;
    const recorder = this.recorder;
    this.recorder = null;
    recorder.stop();
  }

  render() {
    const session = this.room.session;
    // Only while a call is under way (ringing onwards): the question and the answers
    // would otherwise take a phone's room header for a call nobody has started.
    const show =
      Boolean(session) && this.participant && !this.room.ended && this.consent !== null && this.call.live;
    this.root.hidden = !show;
    if (!show) return;
    this.question.hidden = this.mine !== null;
    this.badge.hidden = !this.recording;
    const names = [
      answerText(session.student ? session.student.name : gettext("Student"), this.consent.student),
      answerText(session.coach ? session.coach.name : gettext("Coach"), this.consent.coach),
    ];
    const text = `${gettext("Call recording")} — ${names.join(" · ")}`;
    if (this.answers.textContent !== text) this.answers.textContent = text;
    this.toggle.hidden = this.mine === null;
    this.toggle.textContent = this.mine ? gettext("Withdraw consent") : gettext("Allow recording");
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }
}

export function mountRecording({ root, channel, room, call }) {
  return new Recording({ root, channel, room, call });
}
