// The replay page (/sessions/{id}/replay/ and a share link's …/replay/): the lesson played
// back from its recording (the page's `replay-data`, the replay document) with the room's
// own parts: the swing player, the drawing layer, the timeline and the cards.
//   the recording, read at a moment → recording.js   the clock → clock.js
//   the player, the compared swing and the strokes → player-driver.js     the timeline and cards → timeline-driver.js
//   the scrub bar and its moments → scrub.js           buttons and keys → controls.js
//   the call's recording, its length and deletion → audio-driver.js, call-recording.js
import { reveal } from "../realtime.js";
import { Compare } from "../review/compare.js";
import { Player } from "../review/player.js";
import { RoomState } from "../room-state.js";
import { AnalysisPanel } from "../room/analysis.js";
import { AudioDriver } from "./audio-driver.js";
import { mountCallRecording } from "./call-recording.js";
import { entryRenderer } from "../room/entries.js";
import { Timeline } from "../room/timeline.js";
import { ReplayClock } from "./clock.js";
import { Controls } from "./controls.js";
import { PlayerDriver } from "./player-driver.js";
import { Recording } from "./recording.js";
import { ScrubBar } from "./scrub.js";
import { TimelineDriver } from "./timeline-driver.js";

const $ = (id) => document.getElementById(id);
const doc = JSON.parse($("replay-data").textContent);
const recording = new Recording(doc);
const me = JSON.parse($("you").textContent); // null on a share link
// The room's state, read-only: who reads (their own lines show as theirs) and the swings.
const room = new RoomState({ me, createdAt: recording.session.created_at });
for (const swing of recording.swings) room.addSwing(swing);
const swingOf = (swingId) => room.swing(swingId);

const clock = new ReplayClock({
  startMs: recording.startMs, endMs: recording.endMs, quietAt: (t) => recording.quietAt(t),
});

const player = new Player({ root: $("replay-player"), screen: $("replay-screen"), video: $("replay-video"), time: $("replay-media-time") },
  { swings: room.swings, controls: false });
$("replay-empty").hidden = recording.swings.length > 0;
$("replay-screen").hidden = recording.swings.length === 0;
// The compared swing, as the room had it (review/compare.js, locked to the main one).
const compare = new Compare({
  ui: {
    screens: $("replay-screens"), compareScreen: $("replay-compare-screen"), compareVideo: $("replay-compare-video"),
    compareLabel: $("replay-compare-label"), compareStatus: $("replay-compare-status"),
  },
  player, controls: false,
});
new PlayerDriver({ recording, clock, player, compare, screen: $("replay-screen"), label: $("replay-swing") });

const analysis = new AnalysisPanel({
  card: $("progress-card"), bar: $("progress-bar"), fill: $("progress-fill"), label: $("progress-label"),
  list: $("feedback-list"), empty: $("feedback-empty"), unitPick: $("speed-unit"), room, options: { isCoach: false },
});
const openCard = (feedbackId) => {
  const card = analysis.cardElement(feedbackId);
  if (card) reveal(card, { smooth: true });
};
const timeline = new Timeline({
  scroller: $("timeline"), list: $("chat-list"), earlier: $("load-earlier"), jump: $("jump-latest"),
  live: $("timeline-live"),
  render: entryRenderer({ room, openCard, hasCard: (swingId) => analysis.hasCard(swingId) }),
  loadPage: null, // the whole log is in the page
});
new TimelineDriver({ recording, clock, timeline, analysis, me });

const scrub = new ScrubBar({
  recording, clock, input: $("replay-scrub"), track: $("replay-ticks"), list: $("replay-moments"),
  count: $("replay-moment-count"), swingOf,
});
new Controls({
  recording, clock, scrub,
  ui: {
    play: $("replay-play"), speeds: [...document.querySelectorAll("[data-speed]")], skip: $("replay-skip"),
    elapsed: $("replay-elapsed"), total: $("replay-total"), wall: $("replay-wall"), status: $("replay-status"),
  },
});

const audio = new AudioDriver({ recordings: doc.recordings || [], clock, audio: $("replay-audio") });
mountCallRecording({
  doc, me,
  ui: { root: $("replay-call"), length: $("replay-call-length"), remove: $("replay-call-delete"), status: $("replay-call-status") },
  onDeleted: () => audio.clear(),
});

clock.jump(recording.startMs); // the lesson's first moment, paused
