// How the review's logged events read in the timeline: a change of leader, the start
// and the end of a compare (docs/protocol.md, "Reviewing a swing together").
import { swingName, tf } from "../i18n.js";

export const REVIEW_LOGGED = ["review:lead_changed", "review:compare_started", "review:compare_ended"];

const nameOf = (person) => (person && person.name) || gettext("Someone");
const sameId = (a, b) => Boolean(a && b) && String(a.id) === String(b.id);

// The line for `event` (null if it is not one of the review's); `swingOf(id)`: the swing.
export function reviewLine(event, p, swingOf) {
  if (event === "review:lead_changed") {
    const names = { name: nameOf(p.leader), by: nameOf(p.by) };
    if (p.asked) return tf(gettext("%(name)s asked for the lead and now leads the review."), names);
    if (sameId(p.by, p.leader)) return tf(gettext("%(name)s took the lead of the review."), names);
    return tf(gettext("%(by)s handed the lead of the review to %(name)s."), names);
  }
  if (event === "review:compare_started" || event === "review:compare_ended") {
    const names = {
      name: nameOf(p.by), swing: swingName(swingOf(p.swing_id)), other: swingName(swingOf(p.compare_swing_id)),
    };
    return event === "review:compare_started"
      ? tf(gettext("%(name)s started comparing %(swing)s with %(other)s."), names)
      : tf(gettext("%(name)s stopped comparing %(swing)s with %(other)s."), names);
  }
  return null;
}
