"""What is kept of the review for replay (coaching/services/review_recording.py): the
settled states, at most one a window while scrubbing, every change of anything but the
position with the state before it, finished strokes and clears in order."""

import itertools

from coaching.services.review import initial_state
from coaching.services.review_recording import SETTLE_MS, THROTTLE_MS, Recording

COACH = {"id": "1", "name": "Pro"}
STUDENT = {"id": "2", "name": "Ian"}
LINE = {"kind": "line", "points": [[0.1, 0.1], [0.5, 0.5]]}


class Room:
    """The room's states as the review rules make them: each a new version at `now`."""

    def __init__(self) -> None:
        self.state = initial_state(COACH, "sw_1")

    def change(self, now: int, **fields) -> dict:
        self.state = {
            **self.state,
            **fields,
            "server_ts": now,
            "version": self.state["version"] + 1,
        }
        return self.state


def states(rows) -> list[dict]:
    assert all(row.kind == "state" and row.at_ms == row.body["server_ts"] for row in rows)
    return [row.body for row in rows]


def test_a_lone_change_is_written_once_it_has_settled():
    recording, room = Recording(), Room()
    paused = room.change(1_000, position_ms=1200)
    recording.state("s", paused, 1_000)
    assert recording.due(1_000 + SETTLE_MS - 1) == []
    assert recording.next_due() == 1_000 + SETTLE_MS
    [row] = recording.due(1_000 + SETTLE_MS)
    assert (row.session_id, row.at_ms, row.kind, row.swing_id) == ("s", 1_000, "state", None)
    assert row.body == paused
    assert recording.due(10_000) == [] and recording.next_due() is None


def test_a_storm_of_a_thousand_seeks_in_five_seconds_writes_a_row_per_window():
    recording, room = Recording(), Room()
    rows = []
    for n in range(1_000):  # one every 5 ms, each to another position
        now = 1_000 + 5 * n
        recording.state("s", room.change(now, position_ms=n * 3), now)
        rows += recording.due(now)
    rows += recording.due(now + SETTLE_MS)
    written = states(rows)
    assert len(written) <= 5_000 // THROTTLE_MS + 2  # 22: a few dozen at most
    assert len(written) >= 5_000 // THROTTLE_MS - 1  # and the scrub is still followed
    assert written[0]["position_ms"] == 0  # where it started
    assert written[-1] == room.state  # where it settled
    gaps = [b["server_ts"] - a["server_ts"] for a, b in itertools.pairwise(written)]
    assert max(gaps) <= THROTTLE_MS + 5
    assert [s["version"] for s in written] == sorted(s["version"] for s in written)


def test_the_state_before_a_pause_and_the_pause_are_kept_however_quick():
    recording, room = Recording(), Room()
    recording.state("s", room.change(1_000, playing=True), 1_000)
    recording.due(1_000 + SETTLE_MS)
    # Seeks while playing, then a pause 10 ms after the last one.
    for n in range(1, 20):
        recording.state("s", room.change(2_000 + n, position_ms=100 * n), 2_000 + n)
    last_seek = room.state
    pause = room.change(2_030, playing=False, position_ms=1_905)
    recording.state("s", pause, 2_030)
    rows = states(recording.due(2_030) + recording.due(2_030 + SETTLE_MS))
    assert rows[-2:] == [last_seek, pause]


def test_every_change_of_swing_rate_leader_or_compare_is_kept_with_the_state_before_it():
    recording, room = Recording(), Room()
    changes = [
        {"position_ms": 500},
        {"position_ms": 600},
        {"position_ms": 700},
        {"rate": 0.5},
        {"position_ms": 800},
        {"position_ms": 900},
        {"swing_id": "sw_2", "position_ms": 0},
        {"compare": {"swing_id": "sw_1", "offset_ms": 0}},
        {"compare": {"swing_id": "sw_1", "offset_ms": 40}},
        {"compare": {"swing_id": "sw_1", "offset_ms": 80}},
        {"leader": STUDENT},
        {"lead_request": None, "alone": [COACH]},
    ]
    made = []
    for n, fields in enumerate(changes):  # 1 ms apart: none settles on its own
        made.append(room.change(1_000 + n, **fields))
        recording.state("s", made[-1], 1_000 + n)
    rows = states(recording.due(1_020) + recording.due(1_020 + SETTLE_MS))
    # Only a move followed by another move of the same kind goes (within the window).
    dropped = [made[1], made[4], made[8]]
    assert rows == [state for state in made if state not in dropped]


def test_finished_strokes_and_clears_are_kept_in_order_after_the_frame_they_were_drawn_on():
    recording, room = Recording(), Room()
    on_frame = room.change(1_000, position_ms=1_500)
    recording.state("s", on_frame, 1_000)
    drawing = {"stroke_id": "k1", "shape": LINE, "by": COACH}
    recording.stroke("s", "sw_1", {**drawing, "done": False}, 1_010)
    recording.stroke("s", "sw_1", {**drawing, "done": False}, 1_060)
    recording.stroke("s", "sw_1", {**drawing, "done": True}, 1_100)
    recording.clear("s", "sw_1", COACH, 1_200)
    recording.stroke("s", "sw_1", {**drawing, "stroke_id": "k2", "done": True}, 1_300)
    rows = recording.due(1_300)
    assert [(r.kind, r.at_ms, r.swing_id) for r in rows] == [
        ("state", 1_000, None),
        ("stroke", 1_100, "sw_1"),
        ("clear", 1_200, "sw_1"),
        ("stroke", 1_300, "sw_1"),
    ]
    assert rows[0].body == on_frame
    assert rows[1].body == drawing  # without `done`
    assert rows[2].body == {"by": COACH}


def test_a_state_applied_before_the_pending_one_but_seen_after_it_is_kept_if_a_change():
    recording, room = Recording(), Room()
    playing = room.change(1_000, playing=True)
    paused = room.change(1_001, playing=False, position_ms=1)
    recording.state("s", paused, 1_002)
    recording.state("s", playing, 1_003)  # its push was answered after the other one
    rows = recording.due(1_003) + recording.due(1_002 + SETTLE_MS)
    assert sorted(states(rows), key=lambda s: s["version"]) == [playing, paused]


def test_sessions_are_kept_apart_and_a_stopping_process_writes_what_waits():
    recording, room_a, room_b = Recording(), Room(), Room()
    a = room_a.change(1_000, position_ms=10)
    b = room_b.change(1_001, position_ms=20)
    recording.state("a", a, 1_000)
    recording.state("b", b, 1_001)
    recording.clear("a", "sw_1", COACH, 1_002)
    rows = recording.flush()
    assert [(r.session_id, r.kind) for r in rows] == [
        ("a", "state"),
        ("a", "clear"),
        ("b", "state"),
    ]
    assert recording.flush() == [] and recording.next_due() is None
