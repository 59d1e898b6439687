// The review panel: the session's swings at the centre of the room, played in sync
// behind a leader (the coach, or the student the coach hands the lead to), drawn on
// together, saved with the lesson, and compared side by side.
//
// Who I am, the session's state and its swings are the room's (room-state.js): the
// panel follows its changes, and the channel only for the review's own events.
//
//   mountReview({root, channel, room});  // before the join
import { tf } from "../i18n.js";
import { AnnotationList } from "./annotations.js";
import { Compare } from "./compare.js";
import { Drawing } from "./drawing.js";
import { Player } from "./player.js";
import { Sync } from "./sync.js";

function collect(root) {
  const one = (role) => root.querySelector(`[data-role="${role}"]`);
  return {
    root,
    empty: one("empty"), stage: one("stage"), screens: one("screens"), screen: one("screen"),
    video: one("video"), swingSelect: one("swing-select"),
    play: one("play"), stepBack: one("step-back"), stepForward: one("step-forward"),
    scrub: one("scrub"), time: one("time"), rates: [...root.querySelectorAll("[data-rate]")],
    keyFrames: one("key-frames"),
    leadStatus: one("lead-status"), follow: one("follow"), alone: one("alone"),
    giveLead: one("give-lead"), takeLead: one("take-lead"), returnLead: one("return-lead"),
    leadError: one("lead-error"),
    drawTools: one("draw-tools"), tools: [...root.querySelectorAll("[data-tool]")],
    clear: one("clear"), saveForm: one("save-form"), note: one("note"), save: one("save"),
    saved: one("saved"), drawHint: one("draw-hint"), drawError: one("draw-error"),
    compareTools: one("compare-tools"), compareToggle: one("compare-toggle"),
    compareControls: one("compare-controls"), compareSelect: one("compare-select"),
    compareBack: one("compare-back"), compareForward: one("compare-forward"), align: one("align"),
    compareStatus: one("compare-status"), compareScreen: one("compare-screen"),
    compareVideo: one("compare-video"), compareLabel: one("compare-label"), mainLabel: one("main-label"),
    annotations: one("annotations"), annotationsEmpty: one("annotations-empty"),
  };
}

export function mountReview({ root, channel, room }) {
  const ui = collect(root);

  const player = new Player(ui, {
    swings: room.swings,
    onIntent: () => sync.intent(),
    onSwingChange: () => {
      drawing.wipe();
      compare.renderOptions();
      sync.swingChanged();
    },
  });
  const sync = new Sync({ channel, player, room, onChange: () => renderLead() });
  const may = () => {
    const open = !room.ended;
    return { draw: open && (room.role === "coach" || sync.leading), save: open && room.role === "coach" };
  };
  const drawing = new Drawing({ ui, channel, player, may, me: () => room.me });
  const compare = new Compare({ ui, player });
  const annotations = new AnnotationList({
    ui, player,
    onSelect: async (annotation) => {
      sync.intent();
      if (!(await player.select(annotation.swing_id))) return;
      player.video.pause();
      player.seek(annotation.time_ms);
      const shown = () => drawing.show(annotation.shapes || [], { share: sync.leading && may().draw });
      player.video.addEventListener("seeked", shown, { once: true });
    },
  });

  // A swing the room now knows (new, or its data again from a join).
  function showSwing(swing) {
    player.renderSwingOptions();
    compare.renderOptions();
    ui.empty.hidden = true;
    ui.stage.hidden = false;
    if (!player.swing) player.select(swing.swing_id);
  }

  function leadButton(button, show, label) {
    button.hidden = !show;
    if (label) button.textContent = label;
  }

  function renderLead() {
    const leader = sync.leader;
    const role = room.role;
    const session = room.session;
    const leading = sync.leading;
    const leaderName = leader ? leader.name : gettext("the coach");
    const leaderIsCoach = leader && session && session.coach && String(leader.id) === String(session.coach.id);
    let status;
    if (leading) status = role === "coach" ? gettext("You lead: the room follows your player.") : gettext("You lead: the coach follows your player.");
    else if (sync.following) status = tf(gettext("Following %(name)s"), { name: leaderName });
    else status = tf(gettext("Watching alone · %(name)s leads"), { name: leaderName });
    ui.leadStatus.textContent = status;
    ui.root.dataset.lead = leading ? "leading" : (sync.following ? "following" : "alone");

    const student = session && session.student;
    const coach = session && session.coach;
    leadButton(ui.alone, !leading && sync.following && Boolean(sync.state));
    leadButton(ui.follow, !leading && !sync.following,
      leaderIsCoach ? gettext("Follow coach") : tf(gettext("Follow %(name)s"), { name: leaderName }));
    leadButton(ui.giveLead, role === "coach" && leading && Boolean(student),
      student ? tf(gettext("Give the lead to %(name)s"), { name: student.name }) : null);
    leadButton(ui.takeLead, role === "coach" && !leading);
    leadButton(ui.returnLead, role !== "coach" && leading && Boolean(coach));
    drawing.renderTools();
  }

  function lead(userId) {
    ui.leadError.hidden = true;
    sync.giveLead(userId).catch((reply) => {
      ui.leadError.textContent = (reply && reply.message) || gettext("The lead did not change.");
      ui.leadError.hidden = false;
    });
  }

  ui.alone.addEventListener("click", () => sync.watchAlone());
  ui.follow.addEventListener("click", () => sync.follow());
  ui.giveLead.addEventListener("click", () => room.session && room.session.student && lead(room.session.student.id));
  ui.takeLead.addEventListener("click", () => room.me && lead(room.me.id));
  ui.returnLead.addEventListener("click", () => room.session && room.session.coach && lead(room.session.coach.id));

  room.on("session", () => renderLead());
  room.on("swing", (swing) => showSwing(swing));
  room.on("event", (event, payload) => {
    if (event === "annotation:added") annotations.add(payload);
    else if (event === "ai:feedback") player.setCardKeyFrames(payload.swing_id, payload.key_frames);
  });
  room.on("join", (snapshot) => {
    for (const card of snapshot.feedback || []) player.setCardKeyFrames(card.swing_id, card.key_frames);
    annotations.reset(snapshot.annotations || []);
    sync.reset(snapshot.review || null);
    if (!snapshot.review && sync.leading && player.swing) sync.sendSoon();
    renderLead();
  });
}
