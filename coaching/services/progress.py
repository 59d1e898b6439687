"""A student's swing metrics across their lessons: what the library's progress chart plots.

One point per analysed swing that carries the metric (under its catalog key or an
alias, coaching/metrics.py): the lesson, the swing, when (the swing's `recorded_at`
when the Node API gave it, else when its card arrived) and the value in the catalog's
unit. Who may see them is `policy.can_see_progress`'s to say: the student, coaches
who taught them, admins.
"""

import math
from typing import Any

from coaching import events, metrics, policy
from coaching.errors import invalid
from coaching.models import Feedback, Swing, User

# The newest this many cards are read: a chart of more swings says nothing more.
MAX_POINTS = 1000


def _student(viewer: User, student_id: int) -> User:
    student = User.objects.filter(pk=student_id).first()
    policy.check_progress(viewer, student)
    return student  # type: ignore[return-value]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _value(card_metrics: Any, keys: tuple[str, ...]) -> float | None:
    """The card's value for the metric: under its own key, else the first alias given."""
    if not isinstance(card_metrics, dict):
        return None
    for key in keys:
        value = _number(card_metrics.get(key))
        if value is not None:
            return value
    return None


def _cards(student: User, keys: list[str] | None = None) -> list[Feedback]:
    cards = Feedback.objects.filter(session__student=student)
    if keys is not None:
        cards = cards.filter(metrics__has_any_keys=keys)
    return list(cards.select_related("session").order_by("-created_at", "-pk")[:MAX_POINTS])


def _times(cards: list[Feedback]) -> dict[tuple[int, str], int]:
    """When each card's swing was hit: its `recorded_at` when known, else the card's time."""
    recorded = {
        (swing.session_id, swing.swing_id): swing.recorded_at
        for swing in Swing.objects.filter(
            session_id__in={card.session_id for card in cards},
            swing_id__in={card.swing_id for card in cards},
            recorded_at__isnull=False,
        ).only("session_id", "swing_id", "recorded_at")
    }
    return {
        (card.session_id, card.swing_id): events.epoch_ms(
            recorded.get((card.session_id, card.swing_id)) or card.created_at
        )
        for card in cards
    }


def catalog_metric(key: str) -> metrics.Metric:
    """The catalog's metric for a key it lists as its own (not an alias)."""
    metric = metrics.metric_for(key)
    if metric is None or metric.key != key:
        raise invalid("metric", "metric must be a metric of the catalog.")
    return metric


def student_progress(*, viewer: User, student_id: int, metric: str) -> dict[str, Any]:
    """`{metric, unit, points: [{session_id, swing_id, at, value}]}`, oldest first."""
    student = _student(viewer, student_id)
    entry = catalog_metric(metric)
    keys = (entry.key, *entry.aliases)
    cards = _cards(student, list(keys))
    times = _times(cards)
    points = []
    for card in cards:
        value = _value(card.metrics, keys)
        if value is not None:
            points.append(
                {
                    "session_id": card.session.session_id,
                    "swing_id": card.swing_id,
                    "at": times[(card.session_id, card.swing_id)],
                    "value": value,
                }
            )
    points.sort(key=lambda p: (p["at"], p["session_id"], p["swing_id"]))
    return {"metric": entry.key, "unit": entry.unit, "points": points}


def student_metrics(*, viewer: User, student_id: int) -> dict[str, Any]:
    """Which catalog metrics the student's swings have values for: `{student: {id, name},
    metrics: [{metric, count, last_at}]}` in catalog order (the chart's metric picker)."""
    student = _student(viewer, student_id)
    cards = _cards(student)
    times = _times(cards)
    found: dict[str, dict[str, Any]] = {}
    for card in cards:
        for entry in metrics.METRICS:
            if _value(card.metrics, (entry.key, *entry.aliases)) is None:
                continue
            at = times[(card.session_id, card.swing_id)]
            seen = found.setdefault(entry.key, {"metric": entry.key, "count": 0, "last_at": at})
            seen["count"] += 1
            seen["last_at"] = max(seen["last_at"], at)
    return {
        "student": events.person(student),
        "metrics": [found[m.key] for m in metrics.METRICS if m.key in found],
    }
