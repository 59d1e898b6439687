"""The review is kept for replay, over real sockets: what the room did comes back from
GET /api/sessions/{id}/replay/ in order, a seek storm writes few rows, the database
being down fails no live review action (and what it missed is written once it is back),
and two processes serving one room write each change once."""

import time

from django.db import connection, transaction

from coaching.models import ReviewRecord
from coaching.services.review_recording import SETTLE_MS, THROTTLE_MS
from coaching.services.sessions import session_end
from tests.api.support import session_url
from tests.realtime.test_review import call, joined
from tests.realtime.test_review import swings as swings  # the fixture
from tests.support.auth import api_client_for
from tests.support.proxy import database_proxy
from tests.support.waiting import wait_until

LINE = {"kind": "line", "points": [[0.1, 0.2], [0.6, 0.7]]}
# Long enough for a state to settle (and be written) before the next change.
SETTLED = SETTLE_MS / 1000 + 0.15


def replay_review(user, session) -> list[dict]:
    response = api_client_for(user).get(session_url(session, "replay"))
    assert response.status_code == 200, response.content
    return response.json()["review"]


def recorded(session, count: int, wait: float = 10.0) -> list[ReviewRecord]:
    """The session's rows, once there are `count` of them."""
    return wait_until(
        f"{count} review rows",
        lambda: list(ReviewRecord.objects.filter(session=session).order_by("at_ms", "id")),
        until=lambda rows: len(rows) >= count,
        wait=wait,
    )


def test_what_the_coach_did_comes_back_from_the_replay_in_order(
    connect, student, coach, active_session, swings
):
    with joined(connect(coach), active_session) as (c, ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            states = []
            for change in (
                {"playing": True},
                {"position_ms": 1000},  # a seek while playing
                {"playing": False},
                {"rate": 0.5},
                {"swing_id": "sw_2"},
            ):
                reply = call(c, active_session, ref, "review:update", change)
                assert reply["status"] == "ok", reply
                states.append(reply["response"])
                time.sleep(SETTLED)
            for done in (False, False, True):
                stroke = {"stroke_id": "k1", "shape": LINE, "done": done}
                assert call(c, active_session, ref, "review:stroke", stroke)["status"] == "ok"
            s.event(active_session.topic, "review:stroke", where=lambda p: p["done"])
            cleared = call(c, active_session, ref, "review:clear", {})
            assert cleared["status"] == "ok"
    recorded(active_session, len(states) + 2)

    review = replay_review(student, active_session)

    assert [entry["kind"] for entry in review] == ["state"] * 5 + ["stroke", "clear"]
    assert [entry["state"] for entry in review[:5]] == states
    assert [entry["at_ms"] for entry in review[:5]] == [s["server_ts"] for s in states]
    playing, seek, paused, slower, swing = states
    assert (playing["playing"], seek["position_ms"], paused["playing"]) == (True, 1000, False)
    # Paused where the playback had got to from the seek, at 1x.
    moved = paused["server_ts"] - seek["server_ts"]
    assert paused["position_ms"] == min(1000 + moved, 3500)
    assert (slower["rate"], swing["swing_id"], swing["position_ms"]) == (0.5, "sw_2", 0)
    stroke, clear = review[5:]
    assert stroke["swing_id"] == clear["swing_id"] == "sw_2"
    assert stroke["stroke"] == {"stroke_id": "k1", "shape": LINE, "by": person(coach)}
    assert clear["by"] == person(coach)
    assert swing["server_ts"] <= stroke["at_ms"] <= clear["at_ms"]


def person(user) -> dict:
    return {"id": str(user.pk), "name": user.display_name}


def test_an_ended_lessons_final_state_is_kept(connect, student, coach, active_session, swings):
    """The coach pauses and ends the lesson at once (before the pause has settled): the
    replay still ends on the pause."""
    with joined(connect(coach), active_session) as (c, ref, _):
        call(c, active_session, ref, "review:update", {"playing": True})
        paused = call(c, active_session, ref, "review:update", {"playing": False})["response"]
        session_end(session_id=active_session.session_id, actor=coach)
        c.event(active_session.topic, "session:state", where=lambda p: p["status"] == "ended")
    recorded(active_session, 2)
    response = api_client_for(student).get(session_url(active_session, "replay"))
    body = response.json()
    assert body["review"][-1]["state"] == paused
    assert body["review"][-1]["at_ms"] <= body["end_ms"] == body["session"]["ended_at"]


def test_a_storm_of_seeks_writes_a_row_per_window_and_where_it_settled(
    spawn_server, connect, coach, active_session, swings
):
    # Pushes unlimited: the page sends at most 20 a second, a hostile client may not.
    server = spawn_server(CLIENT_EVENTS_PER_SECOND="10000", CLIENT_EVENTS_BURST="10000")
    with joined(connect(coach, on=server), active_session) as (c, ref, _):
        started = time.monotonic()
        for n in range(300):
            reply = call(c, active_session, ref, "review:update", {"position_ms": n * 10})
            assert reply["status"] == "ok", reply
        took = time.monotonic() - started
        last = reply["response"]
    wait_until(
        "the last seek recorded",
        lambda: ReviewRecord.objects.filter(session=active_session, at_ms=last["server_ts"]),
    )
    rows = list(ReviewRecord.objects.filter(session=active_session).order_by("at_ms", "id"))
    assert len(rows) <= took * 1000 / THROTTLE_MS + 3, (len(rows), took)
    assert rows[0].body["position_ms"] == 0
    assert rows[-1].body == last


def test_the_database_down_fails_no_stroke_or_clear_and_what_it_missed_is_written_after(
    spawn_server, connect, student, coach, active_session, swings
):
    with database_proxy() as (proxy, url):
        server = spawn_server(DATABASE_URL=url)
        with joined(connect(coach, on=server), active_session) as (c, ref, _):
            with joined(connect(student, on=server), active_session) as (s, _, _):
                seek = call(c, active_session, ref, "review:update", {"position_ms": 700})
                proxy.outage()  # before the seek has settled: its write fails first
                for n in range(3):
                    stroke = {"stroke_id": f"k{n}", "shape": LINE, "done": True}
                    reply = call(c, active_session, ref, "review:stroke", stroke)
                    assert reply["status"] == "ok", reply
                    assert s.event(active_session.topic, "review:stroke")["stroke_id"] == f"k{n}"
                assert call(c, active_session, ref, "review:clear", {})["status"] == "ok"
                s.event(active_session.topic, "review:clear")
                time.sleep(SETTLED + 1)  # the writes fail meanwhile
                assert not ReviewRecord.objects.filter(session=active_session).exists()
                proxy.restore()
        rows = recorded(active_session, 5)
    assert [(row.kind, row.body.get("stroke_id")) for row in rows] == [
        ("state", None),
        ("stroke", "k0"),
        ("stroke", "k1"),
        ("stroke", "k2"),
        ("clear", None),
    ]
    assert rows[0].body == seek["response"]


def test_a_write_held_up_in_the_database_holds_up_no_live_review_action(
    connect, student, coach, active_session, swings
):
    """The recorder's insert waits behind a lock for longer than a reply may take (5 s):
    the coach's updates, strokes and clears are answered and broadcast meanwhile."""
    table = ReviewRecord._meta.db_table
    with joined(connect(coach), active_session) as (c, ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                held_from = time.monotonic()
                made = []
                for change in ({"playing": True}, {"position_ms": 900}, {"playing": False}):
                    reply = call(c, active_session, ref, "review:update", change)
                    assert reply["status"] == "ok", reply
                    made.append(reply["response"])
                    s.event(active_session.topic, "review:state", where=lambda p: p == made[-1])
                    time.sleep(SETTLED)  # each is due to be written, and waits
                stroke = {"stroke_id": "k1", "shape": LINE, "done": True}
                assert call(c, active_session, ref, "review:stroke", stroke)["status"] == "ok"
                assert call(c, active_session, ref, "review:clear", {})["status"] == "ok"
                s.event(active_session.topic, "review:clear")
                time.sleep(max(0.0, 5.5 - (time.monotonic() - held_from)))
                cursor.execute(
                    f"SELECT count(*) FROM {table} WHERE session_id = %s", [active_session.pk]
                )
                assert cursor.fetchone() == (0,)
    rows = recorded(active_session, len(made) + 2)
    assert [row.body for row in rows[: len(made)]] == made
    assert [row.kind for row in rows[len(made) :]] == ["stroke", "clear"]


def test_two_processes_serving_one_room_write_each_change_once(
    spawn_server, connect, student, coach, active_session, swings
):
    one, two = spawn_server(), spawn_server()
    with joined(connect(coach, on=one), active_session) as (c, c_ref, _):
        with joined(connect(student, on=two), active_session) as (s, s_ref, _):
            made = []
            for change in ({"playing": True}, {"playing": False, "position_ms": 300}):
                made.append(call(c, active_session, c_ref, "review:update", change)["response"])
                s.event(active_session.topic, "review:state", where=lambda p: p == made[-1])
                time.sleep(SETTLED)
            alone = call(s, active_session, s_ref, "review:alone", {"alone": True})
            assert alone["status"] == "ok", alone
            made.append(alone["response"])
            c.event(active_session.topic, "review:state", where=lambda p: p == made[-1])
    rows = recorded(active_session, len(made))
    time.sleep(SETTLED)  # nothing more comes
    rows = list(ReviewRecord.objects.filter(session=active_session).order_by("at_ms", "id"))
    assert [row.body for row in rows] == made
