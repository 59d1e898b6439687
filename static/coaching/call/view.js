// The call bar under the room's header (so it stays in reach on every tab, the Swing
// tab included): what the call is doing in words (announced), who is speaking and who
// is muted on each side, and the buttons for this moment: Talk; Accept and Decline;
// Cancel; Mute, Camera (a laptop) and Hang up; the auto-connect choice.
import { el } from "../realtime.js";
import { formatElapsed, tf } from "../i18n.js";

// What the bar says for a server state `s` to `me`, one of the lesson's two participants
// (so the caller or the callee of any call); `here`: this page holds the call's media.
export function callText(s, me, { here }) {
  const mine = s.caller && s.caller.id === me ? "caller" : "callee";
  const other = mine === "caller" ? s.callee : s.caller;
  const name = other ? other.name : "";
  switch (s.state) {
    case "ringing":
      return mine === "caller" ? tf(gettext("Calling %(name)s…"), { name }) : tf(gettext("%(name)s is calling you"), { name });
    case "connecting":
    case "connected":
    case "reconnecting":
      if (!here) return gettext("You are in this call on another screen.");
      if (s.state === "connecting") return tf(gettext("Connecting the call with %(name)s…"), { name });
      if (s.state === "reconnecting") return gettext("Reconnecting the call…");
      return tf(gettext("On a call with %(name)s"), { name });
    case "ended":
      return endedText(s, me);
    default:
      return "";
  }
}

function endedText(s, me) {
  const by = s.ended_by;
  const byMe = by && by.id === me;
  switch (s.ended_reason) {
    case "declined":
      return byMe ? gettext("You declined the call.") : tf(gettext("%(name)s declined the call."), { name: by ? by.name : "" });
    case "cancelled":
      return byMe ? gettext("You cancelled the call.") : tf(gettext("%(name)s cancelled the call."), { name: by ? by.name : "" });
    case "lesson_ended":
      return gettext("The call ended with the lesson.");
    case "left":
      return tf(gettext("The call ended: %(name)s left the lesson."), { name: by ? by.name : "" });
    default:
      return byMe ? gettext("You hung up.") : tf(gettext("%(name)s hung up."), { name: by ? by.name : "" });
  }
}

export class CallView {
  // `actions`: {talk, accept, decline, hangup, mute, camera, sound, autoConnect(on)}
  constructor(root, actions) {
    this.root = root;
    const button = (action, text, className = "btn btn-small") =>
      el("button", { type: "button", className, text, dataset: { action }, on: { click: () => actions[action]() } });
    this.talk = button("talk", gettext("Talk"), "btn btn-small btn-primary call-talk");
    this.accept = button("accept", gettext("Accept"), "btn btn-small btn-primary");
    this.decline = button("decline", gettext("Decline"), "btn btn-small btn-danger");
    this.cancel = button("hangup", gettext("Cancel"), "btn btn-small");
    this.mute = button("mute", gettext("Mute"));
    this.mute.setAttribute("aria-pressed", "false");
    this.camera = button("camera", gettext("Camera"));
    this.camera.setAttribute("aria-pressed", "false");
    this.hangup = button("hangup", gettext("Hang up"), "btn btn-small btn-danger");
    this.sound = button("sound", gettext("Turn on the sound"), "btn btn-small btn-primary");
    this.status = el("p", { className: "call-status", attrs: { role: "status" } });
    this.clock = el("span", { className: "call-clock muted", attrs: { "aria-hidden": "true" } });
    this.notice = el("p", { className: "visually-hidden", attrs: { "aria-live": "polite" } });
    this.error = el("p", { className: "form-error call-error", attrs: { role: "alert" }, hidden: true });
    this.people = el("ul", { className: "call-people", attrs: { "aria-label": gettext("On the call") } });
    this.autoBox = el("input", { type: "checkbox", on: { change: () => actions.autoConnect(this.autoBox.checked) } });
    // The choice behind a small disclosure: no room taken until asked for.
    this.auto = el("details", { className: "call-options" },
      el("summary", { attrs: { title: gettext("Call settings") } },
        el("span", { className: "call-options-icon", text: "⋯", attrs: { "aria-hidden": "true" } }),
        el("span", { className: "visually-hidden", text: gettext("Call settings") })),
      el("label", { className: "call-auto" }, this.autoBox,
        el("span", { text: gettext("Always connect voice in my lessons") })));
    this.audio = el("audio", { className: "call-audio", autoplay: true });
    this.remoteVideo = el("video", { className: "call-video", autoplay: true, playsInline: true, muted: true, hidden: true,
      attrs: { "aria-label": gettext("The other side's camera") } });
    this.localVideo = el("video", { className: "call-video call-video-self", autoplay: true, playsInline: true, muted: true, hidden: true,
      attrs: { "aria-label": gettext("Your camera") } });
    root.setAttribute("aria-label", gettext("Voice call"));
    // One line on a phone when no call is under way (Talk and the auto-connect choice):
    // the room's panels keep the height.
    this.words = el("div", { className: "call-words" }, this.status, this.clock);
    root.append(
      el("div", { className: "call-line" },
        this.words,
        this.people,
        el("div", { className: "call-buttons" },
          this.talk, this.accept, this.decline, this.cancel, this.mute, this.camera, this.hangup, this.sound),
        this.auto),
      this.error, this.notice,
      el("div", { className: "call-videos" }, this.remoteVideo, this.localVideo), this.audio,
    );
    this.personNodes = new Map();
  }

  person(key, name) {
    let node = this.personNodes.get(key);
    if (!node) {
      node = {
        item: el("li", { className: "call-person", dataset: { person: key } }),
        dot: el("span", { className: "call-dot", attrs: { "aria-hidden": "true" } }),
        name: el("span", { className: "call-name" }),
        muted: el("span", { className: "call-muted", text: gettext("Muted") }),
      };
      node.item.append(node.dot, node.name, node.muted);
      this.people.append(node.item);
      this.personNodes.set(key, node);
    }
    node.name.textContent = name;
    return node;
  }

  // `m`: {show, text, mine, live, here, connectedAt, people: [{key, name, muted, speaking}],
  //       muted, camera, cameraAvailable, needsSound, canTalk, autoConnect, serverNow}
  render(m) {
    this.root.hidden = !m.show;
    if (!m.show) return;
    this.root.dataset.state = m.state;
    // Nothing to say and no call: one small line (on a phone it shares the header's row).
    this.root.classList.toggle("is-quiet", !m.live && !m.text);
    if (this.status.textContent !== m.text) this.status.textContent = m.text;
    this.words.hidden = !m.text;
    const inCall = m.live && m.state !== "ringing" && m.here;
    const shown = (node, on) => { node.hidden = !on; };
    shown(this.talk, m.canTalk);
    shown(this.accept, m.state === "ringing" && m.mine === "callee");
    shown(this.decline, m.state === "ringing" && m.mine === "callee");
    shown(this.cancel, m.state === "ringing" && m.mine === "caller");
    shown(this.mute, inCall);
    shown(this.camera, inCall && m.cameraAvailable);
    shown(this.hangup, m.live && m.state !== "ringing" && Boolean(m.mine));
    shown(this.sound, inCall && m.needsSound);
    shown(this.auto, m.participant && !m.ended && !m.live);
    this.mute.setAttribute("aria-pressed", String(m.muted));
    this.mute.textContent = m.muted ? gettext("Unmute") : gettext("Mute");
    this.camera.setAttribute("aria-pressed", String(m.camera));
    this.autoBox.checked = m.autoConnect;
    shown(this.people, inCall);
    for (const p of m.people) {
      const node = this.person(p.key, p.name);
      node.item.classList.toggle("is-speaking", p.speaking);
      node.item.classList.toggle("is-muted", p.muted);
      node.muted.hidden = !p.muted;
    }
    this.tick(m);
  }

  // The call's length, from when it connected (server time).
  tick(m) {
    const on = m.state === "connected" && m.here && m.connectedAt;
    this.clock.textContent = on ? formatElapsed(m.serverNow() - m.connectedAt) : "";
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  announce(text) {
    this.notice.textContent = text;
  }
}
