"""Reads: what a joining client, a dashboard and the history endpoints see."""

import time
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from coaching import events, policy
from coaching.errors import ServiceError
from coaching.models import (
    Annotation,
    CallRecording,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
    Status,
    Swing,
    User,
)

SNAPSHOT_MESSAGES = 50
SNAPSHOT_FEEDBACK = 20
SNAPSHOT_ANNOTATIONS = 200
SNAPSHOT_EVENTS = 100
EVENTS_PAGE_DEFAULT = 50
EVENTS_PAGE_MAX = 200
# A rejoining client that missed more events than this reloads the snapshot instead.
MAX_REPLAY = 500


def snapshot_of(
    session: CoachingSession,
    *,
    newest_messages: list[ChatMessage],
    newest_feedback: list[Feedback],
    checkpoints: list[Checkpoint],
    newest_events: list[tuple[str, dict]],
    swings: list[Swing],
    newest_annotations: list[Annotation],
    recap: dict[str, Any] | None,
) -> dict[str, Any]:
    """The join reply: state, recent chat, feedback cards with the coach's checkpoints,
    the latest event-log entries (the timeline), the recap once ended, the swings and
    the latest annotations, the server's clock, and the seq it is current to with the
    eid of the event at that seq (null before the first event).

    `newest_*` are newest first: up to SNAPSHOT_MESSAGES, SNAPSHOT_FEEDBACK and
    SNAPSHOT_ANNOTATIONS, and SNAPSHOT_EVENTS + 1 `(event, payload)` log rows (one more
    tells whether earlier ones exist); `checkpoints` are those of `newest_feedback` and
    `swings` every swing, in seq order."""
    return {
        "session": events.session_state(session),
        "messages": [events.chat_added(m) for m in reversed(newest_messages)],
        "feedback": [events.ai_feedback(f) for f in reversed(newest_feedback)],
        "checkpoints": [events.checkpoint_added(c) for c in checkpoints],
        **timeline(newest_events),
        "recap": recap,
        "server_time": int(time.time() * 1000),
        "last_seq": session.last_seq,
        "last_eid": _eid_at(newest_events, session.last_seq),
        "swings": [events.swing(w) for w in swings],
        "annotations": [events.annotation_added(a) for a in reversed(newest_annotations)],
    }


def _eid_at(newest_events: list[tuple[str, dict]], seq: int) -> str | None:
    """The eid of the event at `seq`, the newest one (every seq has its log row)."""
    if newest_events and newest_events[0][1].get("seq") == seq:
        return newest_events[0][1].get("eid")
    return None


def timeline(newest_events: list[tuple[str, dict]]) -> dict[str, Any]:
    """The latest SNAPSHOT_EVENTS log entries as `[{event, payload}]` in seq order, and
    whether there are earlier ones (`GET …/events/?before_seq=` pages back)."""
    has_more = len(newest_events) > SNAPSHOT_EVENTS
    rows = newest_events[:SNAPSHOT_EVENTS]
    return {
        "events": [{"event": event, "payload": payload} for event, payload in reversed(rows)],
        "has_more_before": has_more,
    }


def event_log_page(
    session: CoachingSession, *, before_seq: int | None = None, limit: int
) -> tuple[list[SessionEvent], bool]:
    """Up to `limit` log rows before `before_seq` (the newest ones when None), newest
    first, and whether earlier ones remain."""
    rows = SessionEvent.objects.filter(session=session)
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    page = list(rows.order_by("-seq")[: limit + 1])
    return page[:limit], len(page) > limit


def events_before(
    session: CoachingSession, before_seq: int | None = None, limit: int = EVENTS_PAGE_DEFAULT
) -> dict[str, Any]:
    """`event_log_page` for the API: its entries oldest first, times in epoch ms."""
    rows, has_more = event_log_page(session, before_seq=before_seq, limit=limit)
    return {
        "events": [
            {
                "seq": row.seq,
                "event": row.event,
                "payload": row.payload,
                "created_at": events.epoch_ms(row.created_at),
            }
            for row in reversed(rows)
        ],
        "has_more": has_more,
    }


def session_recap(session: CoachingSession) -> dict[str, Any]:
    """The end-of-lesson summary: how long, every card, the coach's checkpoints, and
    what to practise (the cards' recommendations in card order, each once). Before the
    end, the same so far (`ended_at` null, duration up to now)."""
    cards = list(feedback_list(session))
    practice: list[str] = []
    for card in cards:
        for item in card.recommendations:
            if isinstance(item, str) and item.strip() and item.strip() not in practice:
                practice.append(item.strip())
    duration_ms = None
    if session.started_at is not None:
        until = session.ended_at or timezone.now()
        duration_ms = max(0, events.epoch_ms(until) - events.epoch_ms(session.started_at))
    return {
        "duration_ms": duration_ms,
        "started_at": events.optional_epoch_ms(session.started_at),
        "ended_at": events.optional_epoch_ms(session.ended_at),
        "feedback": [events.ai_feedback(card) for card in cards],
        "checkpoints": [events.checkpoint_added(c) for c in checkpoint_list(session)],
        "practice": practice,
        "annotations": annotations_for_recap(session),
        # The call's recorded length (coaching/services/recordings.py), null if none.
        "call_recording_ms": CallRecording.objects.filter(session=session).aggregate(
            total=Sum("duration_ms")
        )["total"],
    }


def with_latest_feedback(sessions: QuerySet[CoachingSession]) -> QuerySet[CoachingSession]:
    """Prefetch each session's cards, newest first, for the lobby entry's swing summary."""
    return sessions.prefetch_related(
        Prefetch("feedback", queryset=Feedback.objects.order_by("-seq"), to_attr="newest_feedback")
    )


def waiting_sessions() -> QuerySet[CoachingSession]:
    return with_latest_feedback(
        CoachingSession.objects.filter(status=Status.WAITING)
        .select_related("student", "coach")
        .order_by("created_at")
    )


def lobby_snapshot() -> list[dict[str, Any]]:
    return [events.lobby_entry(s) for s in waiting_sessions()[:200]]


def sessions_visible_to(
    user: User, *, status: str | None = None, mine: bool = False
) -> QuerySet[CoachingSession]:
    """The sessions `user` may list, newest first, optionally only those in `status`, and
    with `mine` only those `user` is the student or the coach of."""
    sessions = CoachingSession.objects.select_related("student", "coach").filter(
        policy.visible_sessions(user)
    )
    if status is not None:
        sessions = sessions.filter(status=status)
    if mine:
        sessions = sessions.filter(Q(student=user) | Q(coach=user))
    return with_latest_feedback(sessions.order_by("-created_at", "-pk"))


def visible_session(user: User, session_id: str) -> CoachingSession:
    """The session, if `user` may see it; otherwise `not_found`, as if it did not exist."""
    session = sessions_visible_to(user).filter(session_id=session_id).first()
    if session is None:
        raise ServiceError("not_found", "No such session.")
    return session


def chat_history(session: CoachingSession, after_seq: int = 0) -> QuerySet[ChatMessage]:
    return (
        ChatMessage.objects.filter(session=session, seq__gt=after_seq)
        .select_related("sender", "session")
        .order_by("seq")
    )


def chat_before(session: CoachingSession, before_seq: int) -> QuerySet[ChatMessage]:
    """Chat lines before `before_seq`, newest first (callers show each page reversed)."""
    return (
        ChatMessage.objects.filter(session=session, seq__lt=before_seq)
        .select_related("sender", "session")
        .order_by("-seq")
    )


def feedback_list(session: CoachingSession) -> QuerySet[Feedback]:
    return Feedback.objects.filter(session=session).select_related("session").order_by("seq")


def checkpoint_list(session: CoachingSession) -> QuerySet[Checkpoint]:
    return (
        Checkpoint.objects.filter(session=session)
        .select_related("session", "feedback", "coach")
        .order_by("seq")
    )


def swing_list(session: CoachingSession) -> QuerySet[Swing]:
    """The session's swings (at most MAX_SWINGS_PER_SESSION), in the order attached."""
    return Swing.objects.filter(session=session).select_related("session").order_by("seq")


def annotation_list(session: CoachingSession) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(session=session)
        .select_related("session", "swing", "coach")
        .order_by("seq")
    )


def annotations_for_recap(session: CoachingSession) -> list[dict[str, Any]]:
    """The recap's `annotations`: every saved annotation, as `annotation:added`, in order."""
    return [events.annotation_added(a) for a in annotation_list(session)]


# --- The library: past lessons ------------------------------------------------------


def library_lessons(
    user: User,
    *,
    coach_id: int | None = None,
    student_id: int | None = None,
    club: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[CoachingSession]:
    """The ended lessons in `user`'s library (policy.library_sessions), newest first (by
    when they started, else were opened), optionally only with one coach or student,
    with a swing of one club (as the Node API names it, any case), or on days from/to
    (inclusive, in TIME_ZONE)."""
    lessons = CoachingSession.objects.filter(
        policy.library_sessions(user), status=Status.ENDED
    ).annotate(lesson_at=Coalesce("started_at", "created_at"))
    if coach_id is not None:
        lessons = lessons.filter(coach_id=coach_id)
    if student_id is not None:
        lessons = lessons.filter(student_id=student_id)
    if club:
        lessons = lessons.filter(
            Exists(Swing.objects.filter(session=OuterRef("pk"), club__iexact=club))
        )
    if date_from is not None:
        lessons = lessons.filter(lesson_at__gte=_local_midnight(date_from))
    if date_to is not None:
        lessons = lessons.filter(lesson_at__lt=_local_midnight(date_to + timedelta(days=1)))
    return with_latest_feedback(
        lessons.select_related("student", "coach")
        .annotate(feedback_count=Count("feedback", distinct=True))
        .prefetch_related(
            Prefetch(
                "swings",
                queryset=Swing.objects.only("session_id", "seq", "club").order_by("seq"),
                to_attr="library_swings",
            )
        )
        .order_by("-lesson_at", "-pk")
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def lesson_entry(session: CoachingSession) -> dict[str, Any]:
    """A lesson in the library: the session as listed, with how long it took, the clubs
    it swung (in the order first swung, each once), how many swings and cards, and where its recap
    is (the lesson's page, which opens on it once ended) and its replay."""
    swings = getattr(session, "library_swings", None)
    if swings is None:
        swings = list(swing_list(session))
    clubs: dict[str, str] = {}  # each club once, whatever its case
    for swing in swings:
        if swing.club and swing.club.strip():
            clubs.setdefault(swing.club.strip().lower(), swing.club.strip())
    duration_ms = None
    if session.started_at is not None and session.ended_at is not None:
        duration_ms = max(
            0, events.epoch_ms(session.ended_at) - events.epoch_ms(session.started_at)
        )
    feedback_count = getattr(session, "feedback_count", None)
    return {
        **events.lobby_entry(session),
        "duration_ms": duration_ms,
        "clubs": list(clubs.values()),
        "swing_count": len(swings),
        "feedback_count": (
            feedback_count if feedback_count is not None else session.feedback.count()
        ),
        "recap_url": reverse("session_page", args=[session.session_id]),
        "replay_url": reverse("replay_page", args=[session.session_id]),
    }


def library_filters(user: User) -> dict[str, Any]:
    """What the library can be filtered by: the coaches and students of `user`'s past
    lessons (by name) and the clubs swung in them."""
    lessons = CoachingSession.objects.filter(policy.library_sessions(user), status=Status.ENDED)
    people = User.objects.order_by("name", "username", "pk")
    coaches = people.filter(pk__in=lessons.filter(coach__isnull=False).values("coach_id"))
    students = people.filter(pk__in=lessons.values("student_id"))
    clubs: dict[str, str] = {}
    for club in (
        Swing.objects.filter(session__in=lessons, club__isnull=False)
        .values_list("club", flat=True)
        .distinct()
    ):
        if club.strip():
            clubs.setdefault(club.strip().lower(), club.strip())
    return {
        "coaches": [events.person(u) for u in coaches],
        "students": [events.person(u) for u in students],
        "clubs": sorted(clubs.values(), key=str.lower),
    }
