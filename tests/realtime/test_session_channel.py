"""Topic `session:{id}`: who may join, chat, control, notices, presence and recovery."""

import asyncio
import urllib.request

import pytest
from django.conf import settings

from coaching.models import ChatMessage, CoachingSession, Role, SessionEvent
from coaching.realtime import presence
from coaching.realtime.db import in_db_thread
from coaching.realtime.session_channel import SessionChannel
from coaching.selectors import MAX_REPLAY
from tests.support.auth import token_for
from tests.support.broadcasts import captured_broadcasts
from tests.support.phoenix import PhoenixClient
from tests.support.waiting import eventually, wait_until


def store_unbroadcast_notices(session: CoachingSession, count: int) -> int:
    """Log `count` notices after the session's last seq without broadcasting them (as if
    the channel layer lost them all); returns the first one's seq."""
    first = CoachingSession.objects.get(pk=session.pk).last_seq + 1
    SessionEvent.objects.bulk_create(
        SessionEvent(
            session=session,
            seq=seq,
            event="system:notice",
            payload={"type": "system", "text": str(seq), "level": "info", "seq": seq},
        )
        for seq in range(first, first + count)
    )
    CoachingSession.objects.filter(pk=session.pk).update(last_seq=first + count - 1)
    return first


class TestJoin:
    def test_student_joins_own_session_with_a_snapshot(self, connect, student, active_session):
        with connect(student) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["session"]["session_id"] == active_session.session_id
        assert reply["session"]["status"] == "active"
        assert reply["session"]["student"]["name"] == "Ian"
        assert reply["session"]["coach"]["name"] == "IanPro"
        assert isinstance(reply["session"]["updated_at"], int)
        assert reply["messages"] == reply["feedback"] == reply["checkpoints"] == []
        assert reply["last_seq"] == 0
        assert reply["you"]["session_role"] == "student"

    def test_snapshot_has_recent_chat_and_last_seq(self, connect, student, coach, active_session):
        with connect(student) as c:
            ref, _ = c.join_ok(active_session.topic)
            for text in ["one", "two"]:
                assert (
                    c.call(active_session.topic, ref, "chat:new", {"message": text})["status"]
                    == "ok"
                )
        with connect(coach) as c:
            _, reply = c.join_ok(active_session.topic)
        assert [m["message"] for m in reply["messages"]] == ["one", "two"]
        assert reply["last_seq"] >= reply["messages"][-1]["seq"]

    def test_snapshot_has_feedback_cards_and_their_checkpoints(
        self, connect, student, coach, active_session, feedback_card
    ):
        from coaching.services.checkpoints import checkpoint_save

        card = feedback_card
        mark = checkpoint_save(
            session_id=active_session.session_id,
            coach=coach,
            feedback_id=int(card["id"]),
            note="Work on this",
        )
        with connect(student) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["feedback"] == [card]
        assert reply["checkpoints"] == [mark]
        assert reply["last_seq"] == mark["seq"]

    def test_coach_of_the_session_joins(self, connect, coach, active_session):
        with connect(coach) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["you"]["session_role"] == "coach"

    def test_admin_joins_any_session_as_observer(self, connect, admin_user, active_session):
        with connect(admin_user) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["you"]["session_role"] == "observer"

    @pytest.mark.parametrize("role", [Role.STUDENT, Role.COACH, Role.SERVICE])
    def test_outsiders_are_forbidden(self, connect, make_user, active_session, role):
        with connect(make_user(role)) as c:
            _, reply = c.join(active_session.topic)
        assert reply == {
            "status": "error",
            "response": {
                "reason": "forbidden",
                "message": "You are not a participant of this session.",
            },
        }

    def test_snapshot_has_the_timeline_recap_and_server_time(
        self, connect, student, coach, active_session
    ):
        with connect(coach) as c:
            ref, _ = c.join_ok(active_session.topic)
            c.event(active_session.topic, "system:notice")  # the coach's own entry
            c.call(active_session.topic, ref, "chat:new", {"message": "hello"})
        with connect(student) as s:
            _, reply = s.join_ok(active_session.topic)
        assert [e["event"] for e in reply["events"]] == ["system:notice", "chat:added"]
        assert reply["events"][1]["payload"] == reply["messages"][0]
        assert reply["has_more_before"] is False
        assert reply["recap"] is None
        assert isinstance(reply["server_time"], int)
        state = reply["session"]
        assert (state["started_at"], state["ended_at"], state["step_source"]) == (
            None,
            None,
            "auto",
        )
        assert isinstance(state["created_at"], int)

    def test_snapshot_timeline_is_the_latest_100_events(self, connect, student, active_session):
        assert store_unbroadcast_notices(active_session, 130) == 1
        with connect(student) as s:
            _, reply = s.join_ok(active_session.topic)
        assert [e["payload"]["seq"] for e in reply["events"]] == list(range(31, 131))
        assert reply["has_more_before"] is True

    def test_snapshot_of_an_ended_session_has_its_recap(
        self, connect, student, coach, active_session
    ):
        from coaching.services.sessions import session_end

        session_end(session_id=active_session.session_id, actor=coach)
        with connect(student) as s:
            _, reply = s.join_ok(active_session.topic)
        recap = reply["recap"]
        assert recap["ended_at"] == reply["session"]["ended_at"]
        assert (recap["feedback"], recap["practice"], recap["annotations"]) == ([], [], [])

    def test_coach_previews_an_unclaimed_session_read_only(self, connect, coach, waiting_session):
        with connect(coach) as c:
            ref, reply = c.join_ok(waiting_session.topic)
            chat = c.call(waiting_session.topic, ref, "chat:new", {"message": "hi"})
            control = c.call(waiting_session.topic, ref, "session:control", {"status": "ended"})
            c.no_event(waiting_session.topic, "system:notice")
        assert reply["you"]["session_role"] == "preview"
        assert reply["session"]["status"] == "waiting"
        assert chat["response"]["reason"] == control["response"]["reason"] == "forbidden"
        assert not ChatMessage.objects.exists()
        assert not SessionEvent.objects.exists()

    def test_a_previewing_coach_sees_who_is_there_without_being_listed(
        self, connect, student, coach, waiting_session
    ):
        topic = waiting_session.topic
        with connect(student) as s:
            s.join_ok(topic)
            s.event(topic, "presence:state")
            with connect(coach) as c:
                c.join_ok(topic)
                state = c.event(topic, "presence:state")
                s.no_event(
                    topic, "presence:diff", wait=0.5, where=lambda d: str(coach.pk) in d["joins"]
                )
        assert list(state) == [str(student.pk)]

    def test_a_preview_ends_when_another_coach_claims(
        self, server, connect, make_user, student, coach, waiting_session
    ):
        topic = waiting_session.topic
        other = make_user(Role.COACH, name="Other Pro")
        with connect(coach) as c, connect(other) as o, connect(student) as s:
            c.join_ok(topic)
            o.join_ok(topic)  # previews too, then claims through the server
            s_ref, _ = s.join_ok(topic)
            claim = urllib.request.Request(
                f"{server.http_url}/api/sessions/{waiting_session.session_id}/claim/",
                method="POST",
                headers={"Authorization": f"Bearer {token_for(other)}"},
            )
            urllib.request.urlopen(claim, timeout=10).close()
            state = c.event(topic, "session:state")
            s.call(topic, s_ref, "chat:new", {"message": "hi"})
            o.event(topic, "chat:added")  # the claimer's own preview goes on
            c.no_event(topic, "chat:added", wait=0.5)
        assert state["coach"]["name"] == "Other Pro"

    def test_another_coachs_session_is_not_previewed(
        self, connect, make_user, coach, active_session
    ):
        with connect(make_user(Role.COACH)) as c:
            _, reply = c.join(active_session.topic)
        assert reply["response"]["reason"] == "forbidden"

    def test_unknown_session_is_not_found(self, connect, student):
        with connect(student) as c:
            _, reply = c.join("session:sess_doesnotexist")
        assert reply["response"]["reason"] == "not_found"

    def test_bad_last_seq_is_refused(self, connect, student, active_session):
        with connect(student) as c:
            _, reply = c.join(active_session.topic, {"last_seq": "soon"})
        assert reply["response"]["reason"] == "invalid_input"
        assert reply["response"]["field"] == "last_seq"


class TestChat:
    def test_chat_reaches_everyone_with_sender_from_the_token(
        self, connect, student, coach, active_session
    ):
        with connect(student) as s, connect(coach) as c:
            s_ref, _ = s.join_ok(active_session.topic)
            c.join_ok(active_session.topic)
            forged = {"message": " Head opens at impact ", "sender": {"id": "999", "role": "coach"}}
            reply = s.call(active_session.topic, s_ref, "chat:new", forged)
            assert reply["status"] == "ok"
            sent = reply["response"]["message"]
            received = c.event(active_session.topic, "chat:added")
            echoed = s.event(active_session.topic, "chat:added")
        assert received == echoed == sent
        assert sent["sender"] == {"id": str(student.pk), "role": "student", "name": "Ian"}
        assert sent["message"] == "Head opens at impact"
        assert sent["session_id"] == active_session.session_id
        assert isinstance(sent["seq"], int) and isinstance(sent["meta"]["ts"], int)

    def test_resent_client_msg_id_is_stored_and_broadcast_once(
        self, connect, student, active_session
    ):
        with connect(student) as s:
            ref, _ = s.join_ok(active_session.topic)
            payload = {"message": "hello", "client_msg_id": "m-1"}
            first = s.call(active_session.topic, ref, "chat:new", payload)
            again = s.call(active_session.topic, ref, "chat:new", payload)
            assert first["response"] == again["response"]
            s.event(active_session.topic, "chat:added")
            s.no_event(active_session.topic, "chat:added")
        assert ChatMessage.objects.count() == 1

    def test_a_line_with_a_lone_surrogate_is_answered_invalid_input(
        self, connect, student, active_session
    ):
        with connect(student) as s:
            ref, _ = s.join_ok(active_session.topic)
            reply = s.call(active_session.topic, ref, "chat:new", {"message": "lone \ud800"})
        assert (reply["response"]["reason"], reply["response"]["field"]) == (
            "invalid_input",
            "message",
        )
        assert not ChatMessage.objects.exists()

    def test_observer_cannot_chat(self, connect, admin_user, active_session):
        with connect(admin_user) as a:
            ref, _ = a.join_ok(active_session.topic)
            reply = a.call(active_session.topic, ref, "chat:new", {"message": "hi"})
        assert reply["response"]["reason"] == "forbidden"
        assert not ChatMessage.objects.exists()


class TestControl:
    def test_coach_pauses_and_everyone_sees_the_state(
        self, connect, student, coach, active_session
    ):
        with connect(student) as s, connect(coach) as c:
            s.join_ok(active_session.topic)
            c_ref, _ = c.join_ok(active_session.topic)
            reply = c.call(
                active_session.topic,
                c_ref,
                "session:control",
                {"status": "paused", "current_step": "analysis"},
            )
            assert reply["status"] == "ok"
            state = s.event(active_session.topic, "session:state")
        assert state == reply["response"]
        assert (state["status"], state["current_step"]) == ("paused", "analysis")
        assert state["coach"] == {"id": str(coach.pk), "name": "IanPro"}
        assert isinstance(state["seq"], int)

    def test_student_cannot_control(self, connect, student, active_session):
        with connect(student) as s:
            ref, _ = s.join_ok(active_session.topic)
            reply = s.call(active_session.topic, ref, "session:control", {"status": "ended"})
        assert reply["response"]["reason"] == "forbidden"
        active_session.refresh_from_db()
        assert active_session.status == "active"
        assert not SessionEvent.objects.filter(event="session:state").exists()

    def test_admin_may_end_but_not_pause(self, connect, admin_user, active_session):
        with connect(admin_user) as a:
            ref, _ = a.join_ok(active_session.topic)
            paused = a.call(active_session.topic, ref, "session:control", {"status": "paused"})
            ended = a.call(active_session.topic, ref, "session:control", {"status": "ended"})
        assert paused["response"]["reason"] == "forbidden"
        assert ended["response"]["status"] == "ended"

    def test_invalid_transition_is_refused_with_reason(self, connect, coach, active_session):
        with connect(coach) as c:
            ref, _ = c.join_ok(active_session.topic)
            reply = c.call(active_session.topic, ref, "session:control", {"status": "waiting"})
        assert reply["response"]["reason"] == "invalid_transition"
        assert "active to waiting" in reply["response"]["message"]

    def test_ended_is_final_for_chat_and_control(self, connect, student, coach, active_session):
        with connect(student) as s, connect(coach) as c:
            s_ref, _ = s.join_ok(active_session.topic)
            c_ref, _ = c.join_ok(active_session.topic)
            assert (
                c.call(active_session.topic, c_ref, "session:control", {"status": "ended"})[
                    "status"
                ]
                == "ok"
            )
            chat = s.call(active_session.topic, s_ref, "chat:new", {"message": "wait!"})
            resume = c.call(active_session.topic, c_ref, "session:control", {"status": "active"})
            step = c.call(
                active_session.topic, c_ref, "session:control", {"current_step": "feedback"}
            )
        assert chat["response"]["reason"] == "session_ended"
        assert resume["response"]["reason"] == "session_ended"
        assert step["response"]["reason"] == "session_ended"
        assert not ChatMessage.objects.exists()


class TestNotices:
    def test_coach_entering_is_announced_to_the_student(
        self, connect, student, coach, active_session
    ):
        with connect(student) as s:
            s.join_ok(active_session.topic)
            s.event(active_session.topic, "system:notice")  # the student's own entry
            with connect(coach) as c:
                c.join_ok(active_session.topic)
                notice = s.event(active_session.topic, "system:notice")
        assert notice["type"] == "system"
        assert notice["level"] == "info"
        assert notice["text"] == "코치 IanPro님이 세션에 입장했습니다."
        assert notice["code"] == "participant_joined"
        assert notice["params"] == {"name": "IanPro", "role": "coach"}
        assert isinstance(notice["seq"], int)

    def test_reconnecting_soon_after_is_not_announced_again(
        self, connect, student, coach, active_session
    ):
        with connect(coach) as c:
            c.join_ok(active_session.topic)
        with connect(student) as s:
            s.join_ok(active_session.topic)
            with connect(coach) as c:
                c.join_ok(active_session.topic)
            s.event(active_session.topic, "presence:diff", where=lambda d: d["leaves"])
        texts = [e.payload["text"] for e in SessionEvent.objects.filter(event="system:notice")]
        assert texts.count("코치 IanPro님이 세션에 입장했습니다.") == 1

    @pytest.mark.django_db(transaction=True)
    async def test_a_socket_closed_while_its_join_enters_is_announced_in_then_out(
        self, monkeypatch, settings, connect_in_process, coach, active_session
    ):
        ending = asyncio.Event()
        end_join = SessionChannel.terminate

        async def terminate(channel, **kwargs):
            ending.set()
            await end_join(channel, **kwargs)

        class ListedOnlyOnceTheJoinEnds(presence.MemoryPresence):
            async def track(self, *args, **kwargs):
                await ending.wait()  # the client is gone before the join is listed
                return await super().track(*args, **kwargs)

        monkeypatch.setattr(SessionChannel, "terminate", terminate)
        monkeypatch.setattr(presence, "_presence", ListedOnlyOnceTheJoinEnds())
        settings.LEAVE_NOTICE_GRACE = 0
        comm = await connect_in_process(coach)
        await comm.join_ok("1", active_session.topic)
        await comm.send_input({"type": "websocket.disconnect", "code": 1001})
        await comm.wait(timeout=5)
        left = await eventually(
            "the leave to be announced", lambda: in_db_thread(notices)("participant_left")
        )
        assert len(await in_db_thread(notices)("participant_joined")) == 1
        assert len(left) == 1

    def test_observer_enters_silently(self, connect, admin_user, active_session):
        with connect(admin_user) as a:
            a.join_ok(active_session.topic)
            a.expect(lambda f: f[3] == "presence:state")
        assert not SessionEvent.objects.filter(event="system:notice").exists()


def notices(code: str) -> list[dict]:
    rows = SessionEvent.objects.filter(event="system:notice").order_by("seq")
    return [e.payload for e in rows if e.payload.get("code") == code]


class TestLeaveNotices:
    """A participant's leave is announced when their last connection has stayed gone for
    LEAVE_NOTICE_GRACE seconds; a short drop announces neither leave nor return."""

    def test_a_coach_who_stays_away_is_announced_gone(
        self, spawn_server, connect, student, coach, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="0.3")
        topic = active_session.topic
        with connect(student, on=server) as s:
            s.join_ok(topic)
            with connect(coach, on=server) as c:
                c.join_ok(topic)
                s.event(topic, "system:notice", where=lambda n: n["params"].get("role") == "coach")
            left = s.event(topic, "system:notice", where=lambda n: n["code"] == "participant_left")
        assert left["text"] == "코치 IanPro님이 세션에서 나갔습니다."
        assert left["params"] == {"name": "IanPro", "role": "coach"}
        assert isinstance(left["seq"], int)

    def test_a_short_drop_announces_neither_leave_nor_return(
        self, spawn_server, connect, student, coach, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="1.5")
        drop_and_come_back(connect, active_session.topic, coach, through=server, back=server)
        assert len(notices("participant_joined")) == 1
        assert notices("participant_left") == []

    def test_an_announced_leave_rearms_the_entry_notice(
        self, spawn_server, connect, coach, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="0.2")
        topic = active_session.topic
        with connect(coach, on=server) as c:
            c.join_ok(topic)
            c.event(topic, "system:notice")
        wait_until(
            "the leave to be announced",
            lambda: notices("participant_left"),
            until=lambda left: len(left) == 1,
        )
        with connect(coach, on=server) as c:
            c.join_ok(topic)
            c.event(topic, "system:notice", where=lambda n: n["code"] == "participant_joined")
        codes = [n["code"] for n in notices("participant_joined") + notices("participant_left")]
        assert sorted(codes) == ["participant_joined", "participant_joined", "participant_left"]

    def test_coming_back_through_another_server_process_is_not_a_leave(
        self, spawn_server, connect, coach, active_session
    ):
        if not settings.REDIS_URL:
            pytest.skip("needs REDIS_URL: processes share presence only through Redis")
        first, second = (spawn_server(LEAVE_NOTICE_GRACE="1.5") for _ in range(2))
        drop_and_come_back(connect, active_session.topic, coach, through=first, back=second)
        assert notices("participant_left") == []
        assert len(notices("participant_joined")) == 1

    def test_closing_one_of_two_tabs_is_not_a_leave(
        self, spawn_server, connect, student, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="0.2")
        topic = active_session.topic
        with connect(student, on=server) as tab1:
            tab1.join_ok(topic)
            tab1.event(topic, "system:notice")
            with connect(student, on=server) as tab2:
                tab2.join_ok(topic)
            tab1.no_event(topic, "system:notice", wait=1.0)  # past the 0.2 s grace: the rule
        assert notices("participant_left") == []

    def test_a_leave_still_in_its_grace_period_is_announced_when_the_server_stops(
        self, spawn_server, connect, student, coach, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="600")
        leave_then_stop(connect, server, active_session.topic, stays=student, leaves=coach)
        assert [n["params"]["role"] for n in notices("participant_left")] == ["coach"]

    def test_observers_leave_silently(
        self, spawn_server, connect, student, admin_user, active_session
    ):
        server = spawn_server(LEAVE_NOTICE_GRACE="600")
        leave_then_stop(connect, server, active_session.topic, stays=student, leaves=admin_user)
        assert [n["params"]["role"] for n in notices("participant_joined")] == ["student"]
        assert notices("participant_left") == []


def drop_and_come_back(connect, topic: str, user, *, through, back) -> None:
    """`user` enters through process `through`, drops, and is back at once through
    `back` (the same process or another), then stays past the 1.5 s grace period: the
    2.5 s without a notice are the rule under test, not an ordering."""
    with connect(user, on=through) as c:
        c.join_ok(topic)
        c.event(topic, "system:notice")
    with connect(user, on=back) as c:
        c.join_ok(topic)
        c.no_event(topic, "system:notice", wait=2.5)


def leave_then_stop(connect, server, topic: str, *, stays, leaves) -> None:
    """`stays` joins, `leaves` comes and goes; once `stays` has seen that leave, the
    server stops. A stop runs the leave checks still in their grace period at once;
    `stays`, still connected, is closed by the stop, which is not a leave."""
    with connect(stays, on=server) as s:
        s.join_ok(topic)
        s.event(topic, "presence:state")  # entered: its entry notice is written
        with connect(leaves, on=server) as other:
            other.join_ok(topic)
            other.event(topic, "presence:state")
        s.event(topic, "presence:diff", where=lambda d: str(leaves.pk) in d["leaves"])
        server.stop()


class TestPresence:
    def test_state_after_join_then_diffs_on_join_and_leave(
        self, connect, student, coach, active_session
    ):
        topic = active_session.topic
        with connect(student) as s:
            s.join_ok(topic)
            state = s.event(topic, "presence:state")
            assert list(state) == [str(student.pk)]
            meta = state[str(student.pk)]["metas"][0]
            assert meta["name"] == "Ian" and meta["role"] == "student"
            assert meta["phx_ref"] and isinstance(meta["online_at"], int)
            with connect(coach) as c:
                c.join_ok(topic)
                coach_state = c.event(topic, "presence:state")
                assert set(coach_state) == {str(student.pk), str(coach.pk)}
                joined = s.event(
                    topic, "presence:diff", where=lambda d: str(coach.pk) in d["joins"]
                )
                assert joined["leaves"] == {}
            left = s.event(topic, "presence:diff", where=lambda d: str(coach.pk) in d["leaves"])
        assert left["joins"] == {}
        assert left["leaves"][str(coach.pk)]["metas"][0]["role"] == "coach"

    def test_two_tabs_of_one_user_are_one_key_with_two_metas(
        self, connect, student, active_session
    ):
        topic = active_session.topic
        with connect(student) as tab1, connect(student) as tab2:
            tab1.join_ok(topic)
            tab1.event(topic, "presence:state")
            tab2.join_ok(topic)
            state = tab2.event(topic, "presence:state")
        metas = state[str(student.pk)]["metas"]
        assert len(state) == 1 and len(metas) == 2
        assert metas[0]["phx_ref"] != metas[1]["phx_ref"]

    def test_presence_state_is_sent_again_after_a_rejoin(self, connect, student, active_session):
        topic = active_session.topic
        with connect(student) as s:
            s.join_ok(topic)
            s.event(topic, "presence:state")
            s.join_ok(topic)
            state = s.event(topic, "presence:state")
        assert len(state[str(student.pk)]["metas"]) == 1


class TestRecovery:
    def test_rejoin_with_last_seq_replays_missed_events_in_order_before_live_ones(
        self, connect, student, coach, active_session
    ):
        topic = active_session.topic
        with connect(student) as s:
            s.join_ok(topic)
            last_seq = s.event(topic, "system:notice")["seq"]  # its own entry, after the reply
        with connect(coach) as c:
            c_ref, _ = c.join_ok(topic)
            for text in ["missed 1", "missed 2"]:
                c.call(topic, c_ref, "chat:new", {"message": text})
            c.call(topic, c_ref, "session:control", {"status": "paused"})
        with connect(student) as s:
            join_ref, reply = s.join_ok(topic, {"last_seq": last_seq})
            assert reply["recovery"]["mode"] == "replay"
            replayed = [s.expect(lambda f: f[2] == topic and f[3] != "phx_reply") for _ in range(4)]
        events = [
            (f[3], f[4].get("message") or f[4].get("status") or f[4].get("text")) for f in replayed
        ]
        assert events == [
            ("system:notice", "코치 IanPro님이 세션에 입장했습니다."),
            ("chat:added", "missed 1"),
            ("chat:added", "missed 2"),
            ("session:state", "paused"),
        ]
        assert all(f[0] == join_ref for f in replayed)
        seqs = [f[4]["seq"] for f in replayed]
        assert seqs == sorted(seqs) and seqs[0] > last_seq
        assert reply["recovery"]["count"] == 4

    def test_rejoin_that_missed_too_much_is_told_to_reload_the_snapshot(
        self, connect, student, active_session
    ):
        first = store_unbroadcast_notices(active_session, MAX_REPLAY + 1)
        with connect(student) as s:
            _, reply = s.join_ok(active_session.topic, {"last_seq": 0})
            s.no_event(
                active_session.topic, "system:notice", wait=0.3, where=lambda n: n["seq"] < first
            )
        assert reply["recovery"] == {"mode": "snapshot", "reason": "too_far_behind"}
        assert reply["last_seq"] == first + MAX_REPLAY


def join_both(student: PhoenixClient, coach: PhoenixClient, topic: str) -> str:
    """Student, then coach, join; once the student has seen both entry notices (so the
    session's seq is settled), returns the coach's join_ref."""
    student.join_ok(topic)
    student.event(topic, "system:notice")
    coach_ref, _ = coach.join_ok(topic)
    student.event(topic, "system:notice")
    return coach_ref


class TestGaps:
    def test_an_event_lost_on_the_way_is_sent_from_the_log_before_the_next(
        self, connect, student, coach, active_session
    ):
        from coaching.services.chat import chat_message_post

        topic = active_session.topic
        with connect(student) as s, connect(coach) as c:
            c_ref = join_both(s, c, topic)
            # Stored but never broadcast (captured here): as if the channel layer dropped it.
            with captured_broadcasts():
                lost = chat_message_post(
                    session_id=active_session.session_id, sender=coach, text="lost on the way"
                )
            c.call(topic, c_ref, "chat:new", {"message": "next"})
            first = s.event(topic, "chat:added")
            second = s.event(topic, "chat:added")
        assert (first["message"], first["seq"]) == ("lost on the way", lost["seq"])
        assert (second["message"], second["seq"]) == ("next", lost["seq"] + 1)

    def test_a_gap_too_long_to_send_makes_the_client_rejoin_instead_of_skipping_it(
        self, connect, student, coach, active_session
    ):
        topic = active_session.topic
        with connect(student) as s, connect(coach) as c:
            c_ref = join_both(s, c, topic)
            # Stored but never broadcast, more than a replay may carry.
            first = store_unbroadcast_notices(active_session, MAX_REPLAY + 1)
            c.call(topic, c_ref, "chat:new", {"message": "after the gap"})
            assert s.event(topic, "phx_error") == {"reason": "too_far_behind"}
            s.no_event(topic, "chat:added", wait=0.3)
            _, rejoined = s.join_ok(topic, {"last_seq": first - 1})
        assert rejoined["recovery"] == {"mode": "snapshot", "reason": "too_far_behind"}
        assert rejoined["last_seq"] == first + MAX_REPLAY + 1
