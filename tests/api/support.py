"""Helpers for API tests."""

from coaching.models import CoachingSession


def session_url(session: CoachingSession, action: str = "") -> str:
    return f"/api/sessions/{session.session_id}/" + (f"{action}/" if action else "")


# Who reads a session's history (chat, feedback, checkpoints), and the status they get:
# participants and admins may; the service account may not; outsiders do not see it.
PARTICIPANT_READS = [
    ("student", 200),
    ("coach", 200),
    ("admin_user", 200),
    ("service", 403),
    ("other_student", 404),
    ("other_coach", 404),
]
