"""Topic `session:{id}`: who may join, chat, control, notices, presence and recovery."""

import pytest

from coaching.models import ChatMessage, CoachingSession, Role, SessionEvent
from coaching.selectors import MAX_REPLAY
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient


def client(server, user) -> PhoenixClient:
    return PhoenixClient(server.socket_url, token_for(user))


class TestJoin:
    def test_student_joins_own_session_with_a_snapshot(self, server, student, active_session):
        with client(server, student) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["session"]["session_id"] == active_session.session_id
        assert reply["session"]["status"] == "active"
        assert reply["session"]["student"]["name"] == "Ian"
        assert reply["session"]["coach"]["name"] == "IanPro"
        assert isinstance(reply["session"]["updated_at"], int)
        assert reply["messages"] == reply["feedback"] == reply["checkpoints"] == []
        assert reply["last_seq"] == 0
        assert reply["you"]["session_role"] == "student"

    def test_snapshot_has_recent_chat_and_last_seq(self, server, student, coach, active_session):
        with client(server, student) as c:
            ref, _ = c.join_ok(active_session.topic)
            for text in ["one", "two"]:
                assert (
                    c.call(active_session.topic, ref, "chat:new", {"message": text})["status"]
                    == "ok"
                )
        with client(server, coach) as c:
            _, reply = c.join_ok(active_session.topic)
        assert [m["message"] for m in reply["messages"]] == ["one", "two"]
        assert reply["last_seq"] >= reply["messages"][-1]["seq"]

    def test_snapshot_has_feedback_cards_and_their_checkpoints(
        self, server, student, coach, active_session, feedback_card
    ):
        from coaching.services.checkpoints import checkpoint_save

        card = feedback_card
        mark = checkpoint_save(
            session_id=active_session.session_id,
            coach=coach,
            feedback_id=int(card["id"]),
            note="Work on this",
        )
        with client(server, student) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["feedback"] == [card]
        assert reply["checkpoints"] == [mark]
        assert reply["last_seq"] == mark["seq"]

    def test_coach_of_the_session_joins(self, server, coach, active_session):
        with client(server, coach) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["you"]["session_role"] == "coach"

    def test_admin_joins_any_session_as_observer(self, server, admin_user, active_session):
        with client(server, admin_user) as c:
            _, reply = c.join_ok(active_session.topic)
        assert reply["you"]["session_role"] == "observer"

    @pytest.mark.parametrize("role", [Role.STUDENT, Role.COACH, Role.SERVICE])
    def test_outsiders_are_forbidden(self, server, make_user, active_session, role):
        with client(server, make_user(role)) as c:
            _, reply = c.join(active_session.topic)
        assert reply == {
            "status": "error",
            "response": {
                "reason": "forbidden",
                "message": "You are not a participant of this session.",
            },
        }

    def test_coach_previews_an_unclaimed_session_read_only(self, server, coach, waiting_session):
        with client(server, coach) as c:
            ref, snapshot = c.join_ok(waiting_session.topic)
            reply = c.call(waiting_session.topic, ref, "chat:new", {"message": "hi"})
        assert snapshot["you"]["session_role"] == "preview"
        assert reply["response"]["reason"] == "forbidden"

    def test_unknown_session_is_not_found(self, server, student):
        with client(server, student) as c:
            _, reply = c.join("session:sess_doesnotexist")
        assert reply["response"]["reason"] == "not_found"

    def test_bad_last_seq_is_refused(self, server, student, active_session):
        with client(server, student) as c:
            _, reply = c.join(active_session.topic, {"last_seq": "soon"})
        assert reply["response"]["reason"] == "invalid_input"
        assert reply["response"]["field"] == "last_seq"


class TestChat:
    def test_chat_reaches_everyone_with_sender_from_the_token(
        self, server, student, coach, active_session
    ):
        with client(server, student) as s, client(server, coach) as c:
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
        self, server, student, active_session
    ):
        with client(server, student) as s:
            ref, _ = s.join_ok(active_session.topic)
            payload = {"message": "hello", "client_msg_id": "m-1"}
            first = s.call(active_session.topic, ref, "chat:new", payload)
            again = s.call(active_session.topic, ref, "chat:new", payload)
            assert first["response"] == again["response"]
            s.event(active_session.topic, "chat:added")
            s.no_event(active_session.topic, "chat:added")
        assert ChatMessage.objects.count() == 1

    def test_observer_cannot_chat(self, server, admin_user, active_session):
        with client(server, admin_user) as a:
            ref, _ = a.join_ok(active_session.topic)
            reply = a.call(active_session.topic, ref, "chat:new", {"message": "hi"})
        assert reply["response"]["reason"] == "forbidden"
        assert not ChatMessage.objects.exists()


class TestControl:
    def test_coach_pauses_and_everyone_sees_the_state(self, server, student, coach, active_session):
        with client(server, student) as s, client(server, coach) as c:
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

    def test_student_cannot_control(self, server, student, active_session):
        with client(server, student) as s:
            ref, _ = s.join_ok(active_session.topic)
            reply = s.call(active_session.topic, ref, "session:control", {"status": "ended"})
        assert reply["response"]["reason"] == "forbidden"
        active_session.refresh_from_db()
        assert active_session.status == "active"
        assert not SessionEvent.objects.filter(event="session:state").exists()

    def test_admin_may_end_but_not_pause(self, server, admin_user, active_session):
        with client(server, admin_user) as a:
            ref, _ = a.join_ok(active_session.topic)
            paused = a.call(active_session.topic, ref, "session:control", {"status": "paused"})
            ended = a.call(active_session.topic, ref, "session:control", {"status": "ended"})
        assert paused["response"]["reason"] == "forbidden"
        assert ended["response"]["status"] == "ended"

    def test_invalid_transition_is_refused_with_reason(self, server, coach, active_session):
        with client(server, coach) as c:
            ref, _ = c.join_ok(active_session.topic)
            reply = c.call(active_session.topic, ref, "session:control", {"status": "waiting"})
        assert reply["response"]["reason"] == "invalid_transition"
        assert "active to waiting" in reply["response"]["message"]

    def test_ended_is_final_for_chat_and_control(self, server, student, coach, active_session):
        with client(server, student) as s, client(server, coach) as c:
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
        self, server, student, coach, active_session
    ):
        with client(server, student) as s:
            s.join_ok(active_session.topic)
            s.event(active_session.topic, "system:notice")  # the student's own entry
            with client(server, coach) as c:
                c.join_ok(active_session.topic)
                notice = s.event(active_session.topic, "system:notice")
        assert notice["type"] == "system"
        assert notice["level"] == "info"
        assert notice["text"] == "코치 IanPro님이 세션에 입장했습니다."
        assert notice["code"] == "participant_joined"
        assert notice["params"] == {"name": "IanPro", "role": "coach"}
        assert isinstance(notice["seq"], int)

    def test_reconnecting_soon_after_is_not_announced_again(
        self, server, student, coach, active_session
    ):
        with client(server, coach) as c:
            c.join_ok(active_session.topic)
        with client(server, student) as s:
            s.join_ok(active_session.topic)
            with client(server, coach) as c:
                c.join_ok(active_session.topic)
            s.event(active_session.topic, "presence:diff", where=lambda d: d["leaves"])
        texts = [e.payload["text"] for e in SessionEvent.objects.filter(event="system:notice")]
        assert texts.count("코치 IanPro님이 세션에 입장했습니다.") == 1

    def test_observer_enters_silently(self, server, admin_user, active_session):
        with client(server, admin_user) as a:
            a.join_ok(active_session.topic)
            a.expect(lambda f: f[3] == "presence:state")
        assert not SessionEvent.objects.filter(event="system:notice").exists()


class TestPresence:
    def test_state_after_join_then_diffs_on_join_and_leave(
        self, server, student, coach, active_session
    ):
        topic = active_session.topic
        with client(server, student) as s:
            s.join_ok(topic)
            state = s.event(topic, "presence:state")
            assert list(state) == [str(student.pk)]
            meta = state[str(student.pk)]["metas"][0]
            assert meta["name"] == "Ian" and meta["role"] == "student"
            assert meta["phx_ref"] and isinstance(meta["online_at"], int)
            with client(server, coach) as c:
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

    def test_two_tabs_of_one_user_are_one_key_with_two_metas(self, server, student, active_session):
        topic = active_session.topic
        with client(server, student) as tab1, client(server, student) as tab2:
            tab1.join_ok(topic)
            tab1.event(topic, "presence:state")
            tab2.join_ok(topic)
            state = tab2.event(topic, "presence:state")
        metas = state[str(student.pk)]["metas"]
        assert len(state) == 1 and len(metas) == 2
        assert metas[0]["phx_ref"] != metas[1]["phx_ref"]

    def test_presence_state_is_sent_again_after_a_rejoin(self, server, student, active_session):
        topic = active_session.topic
        with client(server, student) as s:
            s.join_ok(topic)
            s.event(topic, "presence:state")
            s.join_ok(topic)
            state = s.event(topic, "presence:state")
        assert len(state[str(student.pk)]["metas"]) == 1


class TestRecovery:
    def test_rejoin_with_last_seq_replays_missed_events_in_order_before_live_ones(
        self, server, student, coach, active_session
    ):
        topic = active_session.topic
        with client(server, student) as s:
            s.join_ok(topic)
            last_seq = s.event(topic, "system:notice")["seq"]  # its own entry, after the reply
        with client(server, coach) as c:
            c_ref, _ = c.join_ok(topic)
            for text in ["missed 1", "missed 2"]:
                c.call(topic, c_ref, "chat:new", {"message": text})
            c.call(topic, c_ref, "session:control", {"status": "paused"})
        with client(server, student) as s:
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
        self, server, student, active_session
    ):
        first = active_session.last_seq + 1
        SessionEvent.objects.bulk_create(
            SessionEvent(
                session=active_session,
                seq=seq,
                event="system:notice",
                payload={"type": "system", "text": str(seq), "level": "info", "seq": seq},
            )
            for seq in range(first, first + MAX_REPLAY + 1)
        )
        CoachingSession.objects.filter(pk=active_session.pk).update(last_seq=first + MAX_REPLAY)
        with client(server, student) as s:
            _, reply = s.join_ok(active_session.topic, {"last_seq": 0})
            s.no_event(
                active_session.topic, "system:notice", wait=0.3, where=lambda n: n["seq"] < first
            )
        assert reply["recovery"] == {"mode": "snapshot", "reason": "too_far_behind"}
        assert reply["last_seq"] == first + MAX_REPLAY


class TestGaps:
    def test_an_event_lost_on_the_way_is_sent_from_the_log_before_the_next(
        self, server, student, coach, active_session, monkeypatch
    ):
        from coaching.services.chat import chat_message_post

        topic = active_session.topic
        with client(server, student) as s, client(server, coach) as c:
            s.join_ok(topic)
            s.event(topic, "system:notice")
            c_ref, _ = c.join_ok(topic)
            s.event(topic, "system:notice")
            # Stored but never broadcast: as if the channel layer dropped it.
            monkeypatch.setattr("coaching.realtime.publish.broadcast_from_sync", lambda *args: None)
            lost = chat_message_post(
                session_id=active_session.session_id, sender=coach, text="lost on the way"
            )
            c.call(topic, c_ref, "chat:new", {"message": "next"})
            first = s.event(topic, "chat:added")
            second = s.event(topic, "chat:added")
        assert (first["message"], first["seq"]) == ("lost on the way", lost["seq"])
        assert (second["message"], second["seq"]) == ("next", lost["seq"] + 1)
