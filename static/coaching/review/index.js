// The review panel: the session's swings at the centre of the room, played in sync
// behind a leader (the coach, or the student who asked for it or was handed it), drawn
// on together, saved with the lesson, and compared (the compare is shared too).
//
// Who I am, the session's state and its swings are the room's (room-state.js): the
// panel follows its changes, and the channel for the review's own events. The review's
// logged events (lead changes, compare start and end) go to the room's state like every
// logged event, so the timeline shows them (log.js says how they read).
//
//   const review = mountReview({root, channel, room});  // before the join
//   review.present(swingId);  // a swing this page just added: on screen, for all if leading
import { AnnotationList } from "./annotations.js";
import { Compare } from "./compare.js";
import { Drawing } from "./drawing.js";
import { LeadBar } from "./lead.js";
import { REVIEW_LOGGED } from "./log.js";
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
    compareBack: one("compare-back"), compareForward: one("compare-forward"),
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
  const sync = new Sync({ channel, player, room, onChange: () => lead.render() });
  const may = () => {
    const open = !room.ended;
    return { draw: open && (room.role === "coach" || sync.leading), save: open && room.role === "coach" };
  };
  const drawing = new Drawing({ ui, channel, player, may, me: () => room.me });
  const compare = new Compare({ ui, player, onIntent: () => sync.intent(), onChange: () => sync.sendSoon() });
  sync.compare = compare;
  const lead = new LeadBar({ ui, sync, room, onRender: () => drawing.renderTools() });
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

  // A swing this page added, to put on screen once the room knows it.
  let presenting = null;

  // A swing the room now knows (new, or its data again from a join).
  function showSwing(swing) {
    player.renderSwingOptions();
    compare.renderOptions();
    ui.empty.hidden = true;
    ui.stage.hidden = false;
    if (!player.swing || swing.swing_id === presenting) {
      presenting = null;
      player.select(swing.swing_id);
    }
  }

  // Logged, so the timeline shows them: to the room's state, as session.js does the others.
  for (const event of REVIEW_LOGGED) channel.on(event, (payload) => room.receive(event, payload));

  room.on("session", () => lead.render());
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
    lead.render();
  });

  return {
    // Filmed here and uploaded: the leader's page shows it to everyone at once (the others
    // follow); a follower finds it in the swing picker.
    present(swingId) {
      if (!sync.leading) return;
      if (room.swing(swingId)) player.select(swingId);
      else presenting = swingId; // its swing:added is on its way
    },
  };
}
