// Who leads the review, and what this viewer can do about it: follow or watch alone,
// ask for the lead (the student) and answer that (the coach), see who watches alone and
// bring them back (the leader), hand the lead over. The controls fit the state: an
// ended lesson is replayed alone, a preview (or a lesson with no coach yet) is watched
// alone, with no one to follow.
import { el } from "../realtime.js";
import { tf } from "../i18n.js";

const sameId = (a, b) => Boolean(a && b) && String(a.id) === String(b.id);

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function show(button, visible, label) {
  button.hidden = !visible;
  if (visible && label) setText(button, label);
}

export class LeadBar {
  // `onRender()`: after each render (the drawing tools follow the lead).
  constructor({ ui, sync, room, onRender = () => {} }) {
    this.ui = ui;
    this.sync = sync;
    this.room = room;
    this.onRender = onRender;
    this.wasAsking = false;
    this.declined = false;
    const button = (role, className, text, onClick) => el("button", {
      type: "button", className: `btn btn-small ${className}`.trim(), hidden: true, text,
      dataset: { role }, on: { click: onClick },
    });
    this.bring = button("bring-back", "btn-primary", "", () => this.act(() => {
      const viewer = this.sync.others[0];
      return viewer && this.sync.bringBack(viewer.id);
    }));
    this.ask = button("ask-lead", "", gettext("Ask for the lead"), () => this.act(() => {
      this.declined = false;
      return this.sync.askLead();
    }));
    this.noteText = el("span", { className: "review-lead-note-text", attrs: { "aria-live": "polite" } });
    this.accept = button("accept-lead", "btn-primary", "", () => this.act(() => this.sync.answerLead(true)));
    this.decline = button("decline-lead", "", gettext("Not now"), () => this.act(() => this.sync.answerLead(false)));
    this.cancel = button("cancel-ask", "", gettext("Cancel the request"), () => this.act(() => {
      this.cancelling = true;
      return this.sync.askLead({ cancel: true });
    }));
    this.note = el("p", { className: "review-lead-note", dataset: { role: "lead-note" } },
      this.noteText, this.accept, this.decline, this.cancel);
    ui.leadStatus.after(this.bring);
    ui.returnLead.after(this.ask);
    ui.leadError.before(this.note);
    this.bind();
  }

  bind() {
    const { ui, sync, room } = this;
    ui.alone.addEventListener("click", () => sync.watchAlone());
    ui.follow.addEventListener("click", () => sync.follow());
    ui.giveLead.addEventListener("click", () => this.act(() => room.session && room.session.student
      && sync.giveLead(room.session.student.id)));
    ui.takeLead.addEventListener("click", () => this.act(() => room.me && sync.giveLead(room.me.id)));
    ui.returnLead.addEventListener("click", () => this.act(() => room.session && room.session.coach
      && sync.giveLead(room.session.coach.id)));
  }

  // A push about the lead; its refusal is shown under the bar.
  act(push) {
    this.ui.leadError.hidden = true;
    const sent = push();
    if (!sent) return;
    sent.catch((reply) => {
      this.ui.leadError.textContent = (reply && reply.message) || gettext("The lead did not change.");
      this.ui.leadError.hidden = false;
    }).finally(() => {
      this.cancelling = false;
      this.render();
    });
  }

  status(mode, leaderName, alone) {
    const role = this.room.role;
    if (mode === "replay") return gettext("The lesson has ended: replay the swings at your own pace.");
    if (mode === "solo") {
      return role === "preview" ? gettext("Preview: you play the swings on your own.")
        : gettext("Nobody leads yet: you play the swings on your own until a coach joins.");
    }
    if (mode === "leading") {
      if (alone) return tf(gettext("You lead: %(name)s is watching alone."), { name: alone.name });
      return role === "coach" ? gettext("You lead: the room follows your player.")
        : gettext("You lead: the coach follows your player.");
    }
    if (mode === "following") return tf(gettext("Following %(name)s"), { name: leaderName });
    return tf(gettext("Watching alone · %(name)s leads"), { name: leaderName });
  }

  render() {
    const { ui, sync, room } = this;
    const mode = sync.mode;
    const role = room.role;
    const session = room.session;
    const student = session && session.student;
    const coach = session && session.coach;
    const leader = sync.leader;
    const leaderName = leader ? leader.name : gettext("the coach");
    const leaderIsCoach = sameId(leader, coach);
    const alone = mode === "leading" ? sync.others[0] || null : null;
    const request = sync.request;
    const asking = sameId(request, room.me);
    const viewing = mode === "following" || mode === "alone";

    // My request went away without the lead: the coach declined it.
    if (this.wasAsking && !asking && viewing && !this.cancelling) this.declined = true;
    if (!viewing || asking) this.declined = false;
    this.wasAsking = asking;

    setText(ui.leadStatus, this.status(mode, leaderName, alone));
    ui.root.dataset.lead = mode;
    show(this.bring, Boolean(alone), alone && tf(gettext("Bring %(name)s back"), { name: alone.name }));
    show(ui.alone, mode === "following");
    show(ui.follow, mode === "alone",
      leaderIsCoach ? gettext("Follow coach") : tf(gettext("Follow %(name)s"), { name: leaderName }));
    show(ui.giveLead, role === "coach" && mode === "leading" && Boolean(student) && !request,
      student && tf(gettext("Give the lead to %(name)s"), { name: student.name }));
    show(ui.takeLead, role === "coach" && viewing);
    show(ui.returnLead, role === "student" && mode === "leading" && Boolean(coach));
    show(this.ask, role === "student" && viewing && Boolean(coach) && !asking);

    let note = "";
    const answering = role === "coach" && mode === "leading" && Boolean(request);
    if (answering) note = tf(gettext("%(name)s asks for the lead."), { name: request.name });
    else if (role === "student" && asking && viewing) {
      note = tf(gettext("You asked %(name)s for the lead."), { name: coach ? coach.name : leaderName });
    } else if (this.declined) note = tf(gettext("%(name)s keeps the lead for now."), { name: leaderName });
    // Kept in the page (empty when there is nothing to say), so what it says is announced.
    setText(this.noteText, note);
    this.note.classList.toggle("is-empty", !note);
    show(this.accept, answering, answering && tf(gettext("Give %(name)s the lead"), { name: request.name }));
    show(this.decline, answering);
    show(this.cancel, role === "student" && asking && viewing);
    if (mode === "replay" || mode === "solo") ui.leadError.hidden = true;
    this.onRender();
  }
}
