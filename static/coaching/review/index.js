// The review panel: the session's swings at the centre of the room, played in sync
// behind a leader (the coach, or the student the coach hands the lead to), drawn on
// together, saved with the lesson, and compared side by side.
//
//   const review = mountReview({root, channel, you, serverClock});  // before join
//   review.onJoin(snapshot);                                        // after every ok join
import { AnnotationList } from "./annotations.js";
import { Compare } from "./compare.js";
import { Drawing } from "./drawing.js";
import { Player } from "./player.js";
import { Sync } from "./sync.js";
import { fill, gettext } from "./text.js";

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

export function mountReview({ root, channel, you, serverClock }) {
  const ui = collect(root);
  let me = you || null;
  let session = null;

  const player = new Player(ui, {
    onIntent: () => sync.intent(),
    onSwingChange: () => {
      drawing.wipe();
      compare.renderOptions();
      sync.swingChanged();
    },
  });
  const sync = new Sync({ channel, player, serverClock, onChange: () => renderLead() });
  const may = () => {
    const role = me ? me.session_role : null;
    const open = !session || session.status !== "ended";
    return { draw: open && (role === "coach" || sync.leading), save: open && role === "coach" };
  };
  const drawing = new Drawing({ ui, channel, player, may, me: () => me });
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

  function addSwing(swing) {
    if (!swing || !swing.swing_id) return;
    player.addSwing(swing);
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
    const role = me ? me.session_role : null;
    const leading = sync.leading;
    const leaderName = leader ? leader.name : gettext("the coach");
    const leaderIsCoach = leader && session && session.coach && String(leader.id) === String(session.coach.id);
    let status;
    if (leading) status = role === "coach" ? gettext("You lead: the room follows your player.") : gettext("You lead: the coach follows your player.");
    else if (sync.following) status = fill(gettext("Following %(name)s"), { name: leaderName });
    else status = fill(gettext("Watching alone · %(name)s leads"), { name: leaderName });
    ui.leadStatus.textContent = status;
    ui.root.dataset.lead = leading ? "leading" : (sync.following ? "following" : "alone");

    const student = session && session.student;
    const coach = session && session.coach;
    leadButton(ui.alone, !leading && sync.following && Boolean(sync.state));
    leadButton(ui.follow, !leading && !sync.following,
      leaderIsCoach ? gettext("Follow coach") : fill(gettext("Follow %(name)s"), { name: leaderName }));
    leadButton(ui.giveLead, role === "coach" && leading && Boolean(student),
      student ? fill(gettext("Give the lead to %(name)s"), { name: student.name }) : null);
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
  ui.giveLead.addEventListener("click", () => session && session.student && lead(session.student.id));
  ui.takeLead.addEventListener("click", () => me && lead(me.id));
  ui.returnLead.addEventListener("click", () => session && session.coach && lead(session.coach.id));

  channel.on("session:state", (state) => {
    session = state;
    sync.session = state;
    renderLead();
  });
  channel.on("swing:added", (payload) => addSwing(payload.swing));
  channel.on("annotation:added", (annotation) => annotations.add(annotation));
  channel.on("ai:feedback", (card) => player.setCardKeyFrames(card.swing_id, card.key_frames));

  return {
    onJoin(snapshot) {
      me = snapshot.you || me;
      sync.me = me;
      session = snapshot.session || session;
      sync.session = session;
      for (const swing of snapshot.swings || []) addSwing(swing);
      for (const card of snapshot.feedback || []) player.setCardKeyFrames(card.swing_id, card.key_frames);
      annotations.reset(snapshot.annotations || []);
      sync.reset(snapshot.review || null);
      if (!snapshot.review && sync.leading && player.swing) sync.sendSoon();
      renderLead();
    },
  };
}
