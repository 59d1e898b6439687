"""Conformance with the real `phoenix` npm client (node_modules/phoenix), driven from Node.

Each test runs one scenario of tests/realtime/js/conformance.mjs against the session-wide
daphne process (`server` fixture). The script reports, one JSON line each, what the phoenix
client itself saw -- its receive() callbacks, `channel.on`, `socket.onOpen/onError/onClose/
onMessage`, `Presence.onSync`/`list()` -- plus the frames as they crossed the wire; the
assertions are here. Steps that need this side to act (restarting the server) are
coordinated over stdin/stdout: the script prints {"step": ...} and waits for one line.

Debugging: `PHX_JS_DUMP=1 pytest -s tests/realtime/test_phoenix_js_client.py` prints every
record of every scenario.
"""

import itertools
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from coaching.models import Role
from coaching.services.chat import chat_message_post
from tests.support.auth import token_for
from tests.support.servers import ROOT

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).resolve().parent / "js" / "conformance.mjs"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip("node is not installed", allow_module_level=True)
if not (ROOT / "node_modules/phoenix/package.json").exists():
    pytest.skip("node_modules/phoenix is missing (run npm install)", allow_module_level=True)
if not (ROOT / "node_modules/ws/package.json").exists():
    pytest.skip("node_modules/ws is missing (run npm install)", allow_module_level=True)

# phoenix.js 1.8.16's default reconnect backoff (socket.js `reconnectAfterMs`).
DEFAULT_RECONNECT_MS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000]


class Run:
    """The records one scenario printed."""

    def __init__(self, records: list[dict[str, Any]], stderr: str) -> None:
        self.records = records
        self.stderr = stderr

    def all(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("name") == name]

    def one(self, name: str, **match: Any) -> dict[str, Any]:
        found = [r for r in self.all(name) if all(r.get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"expected one {name!r} {match}, got:\n{self!r}"
        return found[0]

    def __repr__(self) -> str:
        return "\n".join(json.dumps(r) for r in self.records) + "\n--- stderr:\n" + self.stderr


def run_scenario(
    scenario: str,
    config: dict[str, Any],
    *,
    on_step: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    timeout: float = 25,
) -> Run:
    """Run one scenario with node; answer its `step` lines with `on_step`."""
    config = {"deadline_ms": int(timeout * 1000) - 2000, **config}
    proc = subprocess.Popen(
        [NODE, str(SCRIPT), scenario],
        cwd=ROOT,  # bare imports ("phoenix", "ws") resolve from ROOT/node_modules
        env={**os.environ, "PHX_CONFORMANCE": json.dumps(config)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    done = False
    try:
        while not done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{scenario}: no end after {timeout} s; got {records}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                break
            record = json.loads(line)
            records.append(record)
            if "fatal" in record:
                raise AssertionError(f"{scenario}: the script failed: {record['fatal']}")
            if "step" in record:
                assert on_step is not None, f"unexpected step {record}"
                proc.stdin.write(json.dumps(on_step(record)) + "\n")
                proc.stdin.flush()
            done = bool(record.get("done"))
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)  # it stops at the end of stdout
        stderr = proc.stderr.read()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
    assert done, f"{scenario}: ended without 'done' (exit {proc.returncode}): {records}\n{stderr}"
    run = Run(records, stderr)
    if os.environ.get("PHX_JS_DUMP"):
        print(f"--- {scenario}\n{run!r}")
    return run


def show(value: Any) -> str:
    """Assertion context that pytest does not truncate."""
    return json.dumps(value, indent=1)


def expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(minutes=-5))
    return str(token)


def metas(view: dict[str, list[dict]], key: str) -> list[dict]:
    return view.get(key, [])


@pytest.fixture
def outsider(make_user):
    return make_user(Role.STUDENT, name="Someone Else")


@pytest.fixture
def config(server, active_session, student, coach, outsider) -> dict[str, Any]:
    return {
        "endpoint": f"ws://127.0.0.1:{server.port}/socket",  # phoenix.js adds /websocket
        "topic": active_session.topic,
        "unknown_topic": "session:sess_doesnotexist0000000",
        "tokens": {
            "student": token_for(student),
            "coach": token_for(coach),
            "outsider": token_for(outsider),
            "expired": expired_token(student),
        },
        "users": {"student": str(student.pk), "coach": str(coach.pk)},
    }


# --- 1. connecting ----------------------------------------------------------------------


def test_params_token_connects(config, student):
    seen = run_scenario("connect_params", config).one("connected")
    socket = seen["socket"]
    assert seen["opened"] and socket["opens"] == 1, show(seen)
    assert len(socket["attempts"]) == 1 and socket["errors"] == [], show(seen)
    attempt = socket["attempts"][0]
    assert attempt["token_in_url"] and attempt["protocols"] == [], show(seen)
    assert "vsn=2.0.0" in attempt["url"]
    assert socket["ws_opens"][0]["protocol"] == "", show(seen)  # none offered, none answered
    assert socket["params_calls"] >= 1  # `params` as a function is evaluated on connect
    assert seen["join"]["response"]["you"]["id"] == str(student.pk), show(seen)


def test_authtoken_subprotocol_connects(config, student):
    seen = run_scenario("connect_authtoken", config).one("connected")
    socket = seen["socket"]
    assert seen["opened"] and socket["opens"] == 1, show(seen)
    assert len(socket["attempts"]) == 1 and socket["errors"] == [], show(seen)
    attempt = socket["attempts"][0]
    assert not attempt["token_in_url"], show(seen)
    assert attempt["protocols"] == ["phoenix", "base64url.bearer.phx.<token>"], show(seen)
    # The server answers "phoenix" (it was offered), never the token entry.
    assert socket["ws_opens"][0]["protocol"] == "phoenix", show(seen)
    assert seen["join"]["response"]["you"]["id"] == str(student.pk), show(seen)


def test_refused_upgrade_never_opens_and_retries_with_backoff(config):
    window_ms = 3000
    run = run_scenario("refused", {**config, "window_ms": window_ms})
    refused = {r["socket"]["label"]: r["socket"] for r in run.all("refused")}
    assert set(refused) == {
        "bad_token",
        "missing_token",
        "expired_token",
        "bad_authtoken",
        "unsupported_vsn",
    }, run
    # Attempts at 0, 10, 60, 160, ... ms with the default backoff: the most that fit.
    at, most = 0, 1
    for ms in DEFAULT_RECONNECT_MS:
        at += ms
        most += at < window_ms
    for label, socket in refused.items():
        # Never opened: no onOpen, no WebSocket open event.
        assert socket["opens"] == 0 and socket["ws_opens"] == [], (label, show(socket))
        # The upgrade itself was refused with HTTP 403, reported by the client's onError.
        assert socket["errors"], (label, show(socket))
        assert all("403" in e for e in socket["errors"]), (label, show(socket))
        # It keeps trying, but no faster than its backoff: no reconnect storm.
        attempts = [a["t"] for a in socket["attempts"]]
        assert 2 <= len(attempts) <= most + 1, (label, show(socket))
        for i, (prev, nxt) in enumerate(itertools.pairwise(attempts)):
            assert nxt - prev >= socket["backoff"][i]["ms"] - 5, (label, i, show(socket))


# --- 2. heartbeat -----------------------------------------------------------------------


def test_short_heartbeat_interval_keeps_socket_open(config):
    run = run_scenario("heartbeat", {**config, "heartbeat_ms": 200, "duration_ms": 3000})
    hb = run.one("heartbeat")
    socket = hb["socket"]
    # phoenix.js closes and reconnects when a heartbeat is not answered within the interval.
    assert hb["heartbeat_timeouts"] == 0, show(hb)
    assert socket["opens"] == 1 and len(socket["attempts"]) == 1, show(hb)
    assert socket["closes"] == [] and socket["connected"], show(hb)
    assert hb["heartbeats_sent"] >= 10, show(hb)  # ~14 in 3 s at 200 ms
    # Every heartbeat but the one in flight was answered: ok, {} and a null join_ref.
    assert len(hb["replies"]) >= hb["heartbeats_sent"] - 1, show(hb)
    for reply in hb["replies"]:
        assert reply["status"] == "ok" and reply["response"] == {}, show(hb)
        assert reply["join_ref"] is None, show(hb)
    assert hb["channel_state"] == "joined"
    assert hb["push_after"]["status"] == "ok", show(hb)


# --- 3. join ----------------------------------------------------------------------------


def test_join_ok_reply_carries_snapshot(config, active_session, student):
    posted = chat_message_post(session_id=active_session.session_id, sender=student, text="earlier")
    join = run_scenario("join_ok", config).one("join_ok")
    assert join["errors"] == [] and join["join"] is not None, show(join)
    response = join["join"]["response"]
    assert {"session", "messages", "feedback", "last_seq"} <= set(response), show(join)
    assert response["session"]["session_id"] == active_session.session_id
    assert response["session"]["status"] == "active"
    assert response["session"]["student"]["id"] == str(student.pk)
    assert [m["message"] for m in response["messages"]] == ["earlier"], show(join)
    assert response["messages"][0]["id"] == posted["id"]
    assert response["feedback"] == []
    assert response["last_seq"] >= posted["seq"]


def test_join_errors_report_reason_and_leave_stops_retries(config):
    run = run_scenario("join_errors", config)
    expected = {
        "outsider": "forbidden",
        "unknown_session": "not_found",
        "unmatched_topic": "unmatched topic",
    }
    for label, reason in expected.items():
        seen = run.one("join_error", label=label)
        assert seen["oks"] == [] and len(seen["errors"]) == 1, show(seen)
        assert seen["errors"][0]["response"]["reason"] == reason, show(seen)
        # leave() (its receive("ok") fires client-side at once) closes the channel, and the
        # server answers the leave of a join that failed with ok too.
        assert seen["leave"] == {"status": "ok", "response": {}}, show(seen)
        assert seen["server_leave_reply"] == {"status": "ok", "response": {}}, show(seen)
        assert seen["closes"] == 1 and seen["state"] == "closed", show(seen)
        # One phx_join only: leave() stopped the retry phoenix.js makes after 1 s.
        assert len(seen["join_frames"]) == 1, show(seen)
    after = run.one("sockets_after_refusals")
    # A refused join neither closes the socket nor disturbs another channel on it.
    for who in ("student", "outsider"):
        assert after[who]["opens"] == 1 and after[who]["closes"] == [], show(after)
        assert after[who]["connected"], show(after)
    assert after["student_state"] == "joined"
    assert after["student_push"]["status"] == "ok", show(after)


# --- 4. pushes --------------------------------------------------------------------------


def test_push_replies_and_chat_broadcasts(config, student, coach):
    run = run_scenario("push", config)
    pushes = run.one("pushes")
    ok = pushes["fromStudent"]
    assert ok["status"] == "ok", show(pushes)
    message = ok["response"]["message"]
    assert message["message"] == "hello from the student"
    assert message["sender"] == {"id": str(student.pk), "role": "student", "name": "Ian"}
    assert message["client_msg_id"] == "cmid-1"
    assert pushes["fromCoach"]["status"] == "ok", show(pushes)
    assert pushes["fromCoach"]["response"]["message"]["sender"]["id"] == str(coach.pk)
    # A resent client_msg_id answers the same message (and is not broadcast again, below).
    assert pushes["resent"]["status"] == "ok", show(pushes)
    assert pushes["resent"]["response"]["message"]["id"] == message["id"]
    # Refused pushes: receive("error") with a reason.
    assert pushes["empty"]["status"] == "error", show(pushes)
    assert pushes["empty"]["response"]["reason"] == "invalid_input"
    assert pushes["empty"]["response"]["field"] == "message"
    assert pushes["unknown"]["status"] == "error", show(pushes)
    assert pushes["unknown"]["response"]["reason"] == "unknown_event"
    assert pushes["studentControl"]["status"] == "error", show(pushes)
    assert pushes["studentControl"]["response"]["reason"] == "forbidden"
    assert pushes["coachControl"]["status"] == "ok", show(pushes)
    assert pushes["coachControl"]["response"]["status"] == "paused"

    for label in ("student", "coach"):
        seen = run.one("broadcasts", label=label)
        texts = [c["message"] for c in seen["chats"]]
        assert texts == ["hello from the student", "hello from the coach"], show(seen)
        assert seen["chats"][0]["id"] == message["id"]
        assert seen["chats"][0]["sender"]["id"] == str(student.pk)
        assert seen["chats"][0]["seq"] < seen["chats"][1]["seq"]
        assert all(f == {"join_ref": None, "ref": None} for f in seen["raw_chat_frames"]), show(
            seen
        )  # broadcasts carry null refs
        assert [s["status"] for s in seen["states"]] == ["paused"], show(seen)


# --- 5. duplicate join, rejoin on one socket --------------------------------------------


@pytest.mark.parametrize("reopen", ["on_join_reply", "on_presence_state"])
def test_duplicate_join_on_one_socket_leaves_the_first(config, student, coach, reopen):
    seen = run_scenario("duplicate", {**config, "reopen": reopen}).one("duplicate_join")
    student_id, coach_id = str(student.pk), str(coach.pk)
    # phoenix.js leaves the open channel (socket.leaveOpenTopic) before the second join.
    first_leave = {"join_ref": seen["first_join_ref"], "topic": config["topic"]}
    assert first_leave in seen["leave_frames"], show(seen)
    assert seen["first"]["oks"] == 1 and len(seen["first"]["closes"]) == 1, show(seen)
    assert seen["first"]["state"] == "closed"
    assert seen["second"]["oks"] == 1 and seen["second"]["state"] == "joined", show(seen)
    # Chat reaches the second channel once, the first not at all.
    assert seen["chat"]["status"] == "ok"
    assert seen["second"]["chats"] == 1 and seen["first"]["chats"] == 0, show(seen)
    # The server's view is right: the coach sees the student once.
    assert set(seen["coach_view"]) == {student_id, coach_id}, show(seen)
    assert len(metas(seen["coach_view"], student_id)) == 1, show(seen)
    # The second channel's Presence must not keep the first join's meta: if the server
    # forwards the `joins` diff of the first join to this socket after the client left it,
    # it must also get that join's `leaves` diff to the socket. (see presence_frames)
    assert len(seen["first_meta_refs"]) == 1, show(seen)
    [first_ref] = seen["first_meta_refs"]
    second_refs = [m["phx_ref"] for m in metas(seen["student_view"], student_id)]
    assert first_ref not in second_refs, show(seen)
    assert seen["presence_settled"] and len(second_refs) == 1, show(seen)


def test_rejoin_on_same_socket_replaces_the_old_join(config, student, coach):
    seen = run_scenario("same_socket_rejoin", config).one("same_socket_rejoin")
    student_id = str(student.pk)
    assert seen["presence_settled_before"], show(seen)
    assert seen["new_join_ref"] != seen["old_join_ref"]
    # The join's receive("ok") fired again, for the new join_ref; the channel stays open.
    assert [o["joinRef"] for o in seen["oks"]] == [seen["old_join_ref"], seen["new_join_ref"]]
    assert seen["closes"] == 0 and seen["state"] == "joined", show(seen)
    # The server closed the old join with the old join_ref (the client drops that frame).
    old_close = {"event": "phx_close", "ref": seen["old_join_ref"]}
    assert old_close in seen["frames_for_old_join"], show(seen)
    # One presence meta and one subscription: no ghost, no duplicate delivery.
    assert seen["presence_settled"], show(seen)
    assert len(metas(seen["student_view"], student_id)) == 1, show(seen)
    assert len(metas(seen["coach_view"], student_id)) == 1, show(seen)
    assert seen["chat"]["status"] == "ok"
    assert seen["chats_received"] == 1, show(seen)
    assert seen["socket_opens"] == 1


# --- 6. leave ---------------------------------------------------------------------------


def test_leave_replies_ok_and_closes_channel(config, student, coach):
    seen = run_scenario("leave", config).one("leave")
    student_id, coach_id = str(student.pk), str(coach.pk)
    assert seen["leave"] == {"status": "ok", "response": {}}, show(seen)
    assert len(seen["closes"]) == 1 and seen["state"] == "closed", show(seen)
    assert not seen["still_listed"]  # phoenix.js removed the channel from the socket
    # phoenix.js fires a leave's receive("ok") client-side at once; the server's own
    # answer is a phx_reply ok to the leave's ref...
    reply = seen["server_reply"]
    assert reply is not None, show(seen)
    assert reply["join_ref"] == seen["join_ref"] and reply["ref"] == seen["leave_ref"], show(seen)
    assert reply["payload"] == {"status": "ok", "response": {}}, show(seen)
    # ...after which the socket gets nothing more for the topic but the phx_close.
    after = seen["student_frames_after_reply"]
    assert [f["event"] for f in after] == ["phx_close"], show(seen)
    assert after[0]["join_ref"] == after[0]["ref"] == seen["join_ref"], show(seen)
    assert seen["student_chats_after_leave"] == 0
    # The others see the student leave; chat goes on without them.
    assert seen["both_seen_by_coach"] and seen["gone_for_coach"], show(seen)
    assert set(seen["coach_view"]) == {coach_id}, show(seen)
    assert seen["coach_chat"]["status"] == "ok"
    # A new channel on the same socket joins again and shows up again.
    assert seen["rejoin"] == "ok", show(seen)
    assert seen["back_for_coach"], show(seen)
    assert set(seen["coach_view_after_rejoin"]) == {student_id, coach_id}, show(seen)


# --- 7. presence ------------------------------------------------------------------------


def test_presence_sync_join_leave_and_tabs(config, student, coach):
    run = run_scenario("presence", config)
    student_id, coach_id = str(student.pk), str(coach.pk)

    alone = run.one("presence_student_alone")
    assert alone["reached"] and alone["syncs"] >= 1, show(alone)
    [meta] = alone["view"][student_id]
    assert meta["name"] == "Ian" and meta["role"] == "student", show(alone)
    assert meta["phx_ref"] and isinstance(meta["online_at"], int), show(alone)

    both = run.one("presence_both")
    assert both["reached"], show(both)
    for view in (both["student_view"], both["coach_view"]):
        assert set(view) == {student_id, coach_id}, show(both)
        assert [(m["name"], m["role"]) for m in view[student_id]] == [("Ian", "student")]
        assert [(m["name"], m["role"]) for m in view[coach_id]] == [("IanPro", "coach")]

    left = run.one("presence_coach_left")
    assert left["leave"]["status"] == "ok"
    assert left["reached"] and set(left["student_view"]) == {student_id}, show(left)

    tabs = run.one("presence_second_tab")
    assert tabs["reached"], show(tabs)
    for view in (tabs["student_view"], tabs["tab2_view"]):
        assert set(view) == {student_id}, show(tabs)
        refs = [m["phx_ref"] for m in view[student_id]]
        assert len(refs) == 2 and len(set(refs)) == 2, show(tabs)

    closed = run.one("presence_second_tab_closed")
    assert closed["reached"] and len(closed["student_view"][student_id]) == 1, show(closed)


# --- 8. server restart ------------------------------------------------------------------


def test_clients_reconnect_rejoin_and_recover_after_server_restart(
    server, config, active_session, student, coach
):
    missed = "sent while the student was away"
    timing: dict[str, float] = {}

    def restart(step: dict[str, Any]) -> dict[str, Any]:
        assert step["step"] == "restart_me"
        started = time.monotonic()
        # server.restart(), with a chat line posted in between: while every socket is
        # down, so that only the rejoin with last_seq can bring it.
        server.stop()
        chat_message_post(session_id=active_session.session_id, sender=coach, text=missed)
        server.start()
        timing["restart_s"] = time.monotonic() - started
        return {"missed_message": missed}

    run = run_scenario("restart", config, on_step=restart, timeout=35)
    before = run.one("before_restart")
    assert before["presence"] and before["chat"]["status"] == "ok", show(before)
    assert all(isinstance(s, int) and s > 0 for s in before["last_seq"].values()), show(before)

    student_id, coach_id = str(student.pk), str(coach.pk)
    for who in ("student", "coach"):
        seen = run.one("after_restart", who=who)
        assert seen["rejoined"], show(seen)
        # It reconnected by itself, evaluating the connect params again.
        socket = seen["socket"]
        assert socket["opens"] >= 2 and socket["connected"], show(seen)
        assert socket["params_calls"] >= 2, show(seen)
        # The join's receive("ok") fired again, for a new join_ref.
        oks = seen["join_oks"]
        assert len(oks) >= 2 and oks[0]["joinRef"] != oks[-1]["joinRef"], show(seen)
        assert seen["channel_state"] == "joined"
        # The rejoin sent the channel params evaluated again: the last seq it had seen...
        rejoin_params = seen["join_params_sent"][-1]
        assert isinstance(rejoin_params.get("last_seq"), int), show(seen)
        assert rejoin_params["last_seq"] >= before["last_seq"][who], show(seen)
        # ...and the server replayed what it missed.
        recovery = oks[-1]["recovery"]
        assert recovery is not None and recovery["mode"] == "replay", show(seen)
        assert recovery["after_seq"] == rejoin_params["last_seq"], show(seen)
        assert recovery["count"] >= 1, show(seen)
        assert seen["recovered"] and seen["missed_chat_events"] == 1, show(seen)
        seqs = [c["seq"] for c in seen["chats"]]
        assert seqs == sorted(set(seqs)), show(seen)  # in order, no duplicates
        # Presence is right again. The presence:state the server sent for the rejoin
        # holds no ghost of the previous process: one meta per user (the other client
        # may not be back yet).
        [state] = [
            f["state"]
            for f in seen["presence_frames"]
            if f["event"] == "presence:state" and f["join_ref"] == oks[-1]["joinRef"]
        ]
        assert set(state) <= {student_id, coach_id}, show(seen)
        assert all(len(refs) == 1 for refs in state.values()), show(seen)
        # And the client's list: both present, exactly one meta each.
        assert seen["presence_back"], show(seen)
        assert set(seen["view"]) == {student_id, coach_id}, show(seen)
        assert all(len(m) == 1 for m in seen["view"].values()), show(seen)
        # Chat works after the restart, both ways.
        assert seen["chat_after"]["status"] == "ok", show(seen)
        assert seen["chats_arrived"], show(seen)
    assert timing["restart_s"] < 15
