"""Past lessons for the library, progress and share tests: ended lessons with swings and
feedback cards, made through the services as the Node API would post them."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from coaching.events import epoch_ms
from coaching.models import CoachingSession, Status, User
from coaching.services.analysis import feedback_record
from coaching.services.swings import swing_attach


def past_lesson(
    student: User,
    coach: User | None,
    service: User,
    *,
    started: datetime,
    title: str = "",
    swings: list[tuple[str, str | None, dict[str, Any]]] = (),
    minutes: int = 40,
    status: str = Status.ENDED,
) -> CoachingSession:
    """A lesson that started at `started` and (when ended) took `minutes`; each swing
    `(swing_id, club, metrics)` recorded a minute after the one before, with its card."""
    session = CoachingSession.objects.create(
        student=student,
        coach=coach,
        status=status,
        title=title,
        started_at=started,
        ended_at=started + timedelta(minutes=minutes) if status == Status.ENDED else None,
    )
    for n, (swing_id, club, metrics) in enumerate(swings, start=1):
        swing_attach(
            session_id=session.session_id,
            actor=service,
            swing={
                "swing_id": swing_id,
                "video_url": "/static/demo/swing-demo.mp4",
                "club": club,
                "recorded_at": epoch_ms(started + timedelta(minutes=n)),
            },
        )
        feedback_record(
            session_id=session.session_id,
            actor=service,
            swing_id=swing_id,
            summary=f"{swing_id}: the face is open at impact.",
            metrics=metrics,
            recommendations=[f"Drill for {swing_id}"],
            level="intermediate",
        )
    return session


def days_ago(days: int, hour: int = 10) -> datetime:
    """`hour` o'clock local time (TIME_ZONE), `days` days ago."""
    today = timezone.localtime().replace(hour=hour, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def driver_lesson(student: User, coach: User, service: User, **kwargs: Any) -> CoachingSession:
    """Yesterday's "Driver slice" lesson with one analysed driver swing (`sw_1`)."""
    return past_lesson(
        student,
        coach,
        service,
        started=days_ago(1),
        title="Driver slice",
        swings=[("sw_1", "driver", {"face_angle": 5.2})],
        **kwargs,
    )
