// Drives the room's timeline (room/timeline.js, lines from room/entries.js) and its
// cards (room/analysis.js) from the recording: the logged events that had happened by
// the replay's moment, in seq order. Playing on adds the next ones as the room did when
// they arrived (announced); a jump forward adds them quietly; a jump back builds the
// timeline again up to the new moment.
import { analysisGroup } from "../room/entries.js";

export class TimelineDriver {
  constructor({ recording, clock, timeline, analysis, me }) {
    Object.assign(this, { recording, clock, timeline, analysis, me });
    this.applied = 0; // recording.events[0 .. applied) are shown
    clock.on("tick", (t, { jumped }) => this.follow(t, { jumped }));
  }

  follow(t, { jumped }) {
    const count = this.recording.eventCount(t);
    if (count < this.applied) this.rebuild();
    const live = !jumped;
    const events = this.recording.events;
    for (; this.applied < count; this.applied += 1) this.apply(events[this.applied], { live });
    if (jumped) this.timeline.scrollToEnd();
  }

  rebuild() {
    this.timeline.reset();
    this.analysis.reset();
    this.analysis.card.hidden = true;
    this.applied = 0;
  }

  apply({ event, payload }, { live }) {
    if (event === "ai:feedback") this.analysis.feedback(payload);
    else if (event === "checkpoint:added") this.analysis.checkpoint(payload);
    else if (event === "analysis:milestone") this.analysis.progress(payload);
    const me = this.me;
    const mine = Boolean(me && payload.sender && String(payload.sender.id) === String(me.id));
    this.timeline.add(event, payload, { live, mine });
    if (event === "ai:feedback") this.timeline.refreshGroup(analysisGroup(payload.swing_id));
  }
}
