"""The session state machine: the only place that knows which status may follow which."""

from coaching.errors import ServiceError
from coaching.models import CoachingSession, Status, Step

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.WAITING: frozenset({Status.ACTIVE, Status.ENDED}),
    Status.ACTIVE: frozenset({Status.PAUSED, Status.ENDED}),
    Status.PAUSED: frozenset({Status.ACTIVE, Status.ENDED}),
    Status.ENDED: frozenset(),
}


def open_sql(alias: str) -> str:
    """`ensure_open` as an SQL condition on a session row, for single statements."""
    return f"{alias}.status <> '{Status.ENDED.value}'"


def ensure_open(session: CoachingSession) -> None:
    """`ended` is final: nothing more may happen in the lesson."""
    if session.status == Status.ENDED:
        raise ServiceError("session_ended", "This session has ended.")


def check_transition(current: str, target: str) -> None:
    if target not in Status.values:
        raise ServiceError(
            "invalid_input",
            f"status must be one of {', '.join(Status.values)}.",
            field="status",
        )
    if target not in TRANSITIONS[current]:
        raise ServiceError("invalid_transition", f"A session cannot go from {current} to {target}.")


def check_step(step: str) -> None:
    if step not in Step.values:
        raise ServiceError(
            "invalid_input",
            f"current_step must be one of {', '.join(Step.values)}.",
            field="current_step",
        )
