"""How long a long lesson's replay takes to answer: GET /api/sessions/{id}/replay/.

    .venv/bin/python bench/replay_document.py --events 2000 --review 2000

Makes one ended lesson on BENCH_DATABASE_URL with a swing, `--events` logged chat
lines (payloads as `chat:added` broadcasts them) and `--review` recorded review rows
(full ReviewStates), then asks for its replay `--repeat` times, as its coach, through
the whole Django stack in this process (authentication, the reads, the JSON rendering).
Printed: the document's size, and the p50 and max of `replay_document` alone and of the
whole request, and the p50 of this process's CPU time for each, in ms. Figures, not assertions.
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lesson(events: int, review: int):
    """An ended lesson of `events` log rows and `review` review rows, and its coach."""
    from django.utils import timezone

    from bench.harness import fixtures
    from coaching import events as payloads
    from coaching.models import (
        CoachingSession,
        ReviewRecord,
        SessionEvent,
        Status,
        Swing,
        User,
        new_event_id,
    )
    from coaching.services.review import initial_state

    topic, _, _ = fixtures.project_sessions(1)[0]
    session = CoachingSession.objects.select_related("student", "coach").get(
        session_id=topic.split(":", 1)[1]
    )
    started = timezone.now() - timedelta(hours=1)
    CoachingSession.objects.filter(pk=session.pk).update(
        status=Status.ENDED, started_at=started, ended_at=started + timedelta(minutes=50)
    )
    Swing.objects.create(
        session=session, seq=0, swing_id="sw_1", video_url="/v.mp4", duration_ms=4000
    )
    student: User = session.student
    SessionEvent.objects.bulk_create(
        SessionEvent(
            session=session,
            seq=n,
            event="chat:added",
            payload=payloads.chat_added_payload(
                message_id=n,
                seq=n,
                session_id=session.session_id,
                sender_info=payloads.sender(student),
                text=f"Line {n}: the club face is a little open at impact, again.",
                client_msg_id=f"c{n}",
                created_at=started,
                eid=new_event_id(),
            ),
        )
        for n in range(1, events + 1)
    )
    start_ms = payloads.epoch_ms(started)
    coach = payloads.person(session.coach)
    ReviewRecord.objects.bulk_create(
        ReviewRecord(
            session=session,
            at_ms=start_ms + 1000 * n,
            kind="state",
            body={
                **initial_state(coach, "sw_1"),
                "playing": n % 2 == 0,
                "position_ms": n % 4000,
                "server_ts": start_ms + 1000 * n,
                "version": n,
            },
        )
        for n in range(review)
    )
    return session, session.coach


def timed(call, repeat: int) -> tuple[dict, object]:
    """Wall-clock p50 and max, and the p50 of this process's CPU time (what a busy machine
    disturbs least), in ms."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {
        "p50": round(statistics.median(times), 1),
        "max": round(max(times), 1),
        "cpu_p50": round(statistics.median(cpu), 1),
    }, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--review", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.harness import fixtures

    fixtures.setup_django()
    from django.conf import settings
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from coaching.replay import replay_document

    settings.ALLOWED_HOSTS = ["*"]
    session, coach = lesson(args.events, args.review)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(coach)}")
    url = f"/api/sessions/{session.session_id}/replay/"
    session.refresh_from_db()
    document_ms, document = timed(lambda: replay_document(session), args.repeat)
    request_ms, response = timed(lambda: client.get(url), args.repeat)
    assert response.status_code == 200, response.content[:200]
    print(
        f"events {len(document['events'])}, review rows {len(document['review'])}, "
        f"response {len(response.content) / 1e6:.2f} MB; replay_document ms {document_ms}; "
        f"GET …/replay/ ms {request_ms}"
    )


if __name__ == "__main__":
    main()
