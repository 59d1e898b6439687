"""Helpers for API tests."""

from coaching.models import CoachingSession


def session_url(session: CoachingSession, action: str = "") -> str:
    return f"/api/sessions/{session.session_id}/" + (f"{action}/" if action else "")
