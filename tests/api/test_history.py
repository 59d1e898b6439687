"""A session's whole history over REST: the event log in pages, earlier chat, the recap."""

import pytest

from coaching.models import CoachingSession, SessionEvent
from coaching.services.chat import chat_message_post
from coaching.services.checkpoints import checkpoint_save
from coaching.services.sessions import session_control
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for


def say(session: CoachingSession, user, *texts: str) -> list[dict]:
    return [chat_message_post(session_id=session.session_id, sender=user, text=t) for t in texts]


class TestEvents:
    def test_newest_page_oldest_first_and_whether_more_remain(self, student, active_session):
        say(active_session, student, *[f"m{i}" for i in range(1, 8)])
        body = api_client_for(student).get(session_url(active_session, "events") + "?limit=3")
        assert body.status_code == 200
        page = body.json()
        assert [e["seq"] for e in page["events"]] == [5, 6, 7]
        assert page["has_more"] is True
        entry = page["events"][0]
        assert entry["event"] == "chat:added"
        assert entry["payload"]["message"] == "m5" and entry["payload"]["seq"] == 5
        assert isinstance(entry["created_at"], int)

    def test_before_seq_pages_back_to_the_start(self, student, active_session):
        say(active_session, student, *[f"m{i}" for i in range(1, 8)])
        client = api_client_for(student)
        url = session_url(active_session, "events")
        page = client.get(f"{url}?before_seq=5&limit=3").json()
        assert [e["seq"] for e in page["events"]] == [2, 3, 4] and page["has_more"]
        first = client.get(f"{url}?before_seq=2&limit=3").json()
        assert [e["seq"] for e in first["events"]] == [1] and not first["has_more"]

    def test_limit_defaults_to_50_and_is_at_most_200(self, student, active_session):
        SessionEvent.objects.bulk_create(
            SessionEvent(session=active_session, seq=n, event="system:notice", payload={"seq": n})
            for n in range(1, 61)
        )
        client = api_client_for(student)
        url = session_url(active_session, "events")
        assert len(client.get(url).json()["events"]) == 50
        too_many = client.get(f"{url}?limit=201")
        assert too_many.status_code == 400
        assert list(too_many.json()["error"]["fields"]) == ["limit"]

    @pytest.mark.parametrize("query", ["before_seq=0", "before_seq=x", "limit=0"])
    def test_bad_paging_is_invalid_input(self, student, active_session, query):
        response = api_client_for(student).get(f"{session_url(active_session, 'events')}?{query}")
        assert response.status_code == 400

    @pytest.mark.parametrize(("who", "status"), PARTICIPANT_READS)
    def test_read_by_participants_and_admins(self, request, active_session, who, status):
        user = request.getfixturevalue(who)
        response = api_client_for(user).get(session_url(active_session, "events"))
        assert response.status_code == status


class TestEarlierMessages:
    def test_before_seq_gives_the_newest_page_before_it_oldest_first(self, student, active_session):
        sent = say(active_session, student, *[f"m{i}" for i in range(1, 8)])
        client = api_client_for(student)
        url = session_url(active_session, "messages")
        page = client.get(f"{url}?before_seq={sent[5]['seq']}&page_size=3").json()
        assert [m["message"] for m in page["results"]] == ["m3", "m4", "m5"]
        assert page["count"] == 5
        earlier = client.get(page["next"]).json()
        assert [m["message"] for m in earlier["results"]] == ["m1", "m2"]


class TestRecap:
    def test_ended_lesson_recap_has_duration_cards_checkpoints_and_practice(
        self, student, coach, service, active_session
    ):
        from coaching.services.analysis import feedback_record

        cards = [
            feedback_record(
                session_id=active_session.session_id,
                actor=service,
                swing_id=f"sw_{n}",
                summary=f"Swing {n}",
                metrics={},
                recommendations=recs,
                level="intermediate",
            )[0]
            for n, recs in enumerate(
                [["Grip stronger.", "Slow the takeaway."], ["Slow the takeaway.", "Finish high."]]
            )
        ]
        mark = checkpoint_save(
            session_id=active_session.session_id,
            coach=coach,
            feedback_id=int(cards[0]["id"]),
            note="Grip first.",
        )
        session_control(session_id=active_session.session_id, actor=coach, status="ended")
        active_session.refresh_from_db()
        response = api_client_for(student).get(session_url(active_session, "recap"))
        assert response.status_code == 200
        recap = response.json()
        assert recap["feedback"] == cards
        assert recap["checkpoints"] == [mark]
        assert recap["practice"] == ["Grip stronger.", "Slow the takeaway.", "Finish high."]
        assert recap["annotations"] == []
        assert recap["ended_at"] == int(active_session.ended_at.timestamp() * 1000)
        assert recap["started_at"] is None  # created active by the fixture, never claimed
        assert recap["duration_ms"] is None

    def test_duration_runs_from_claim_to_end(self, student, coach, waiting_session):
        from coaching.services.sessions import session_claim

        session_claim(session_id=waiting_session.session_id, coach=coach)
        session_control(session_id=waiting_session.session_id, actor=coach, status="ended")
        waiting_session.refresh_from_db()
        recap = api_client_for(coach).get(session_url(waiting_session, "recap")).json()
        assert recap["started_at"] == int(waiting_session.started_at.timestamp() * 1000)
        assert recap["duration_ms"] == recap["ended_at"] - recap["started_at"] >= 0

    def test_before_the_end_it_is_the_lesson_so_far(self, student, active_session):
        recap = api_client_for(student).get(session_url(active_session, "recap")).json()
        assert recap["ended_at"] is None and recap["feedback"] == []

    @pytest.mark.parametrize(("who", "status"), PARTICIPANT_READS)
    def test_read_by_participants_and_admins(self, request, active_session, who, status):
        user = request.getfixturevalue(who)
        response = api_client_for(user).get(session_url(active_session, "recap"))
        assert response.status_code == status
