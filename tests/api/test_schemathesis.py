"""The API keeps to its own schema: Schemathesis fuzzes every operation of /api/schema/.

As the service account (the Node API), which may call most operations, and as a
coach, who alone may claim and save checkpoints. Every built-in check runs,
including that schema-valid input is accepted and schema-invalid input refused.
The operations come from the schema itself, so new endpoints are fuzzed too.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.core.parameters import ParameterLocation

from coaching.models import CoachingSession, User
from coaching.services.analysis import feedback_record
from coaching.services.chat import chat_message_post
from tests.support.auth import token_for


def openapi() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


api = schemathesis.openapi.from_dict(openapi()).exclude(path="/api/schema/")
# Requests, and the checks' own probes (e.g. the same call without credentials), go to
# the WSGI app in this process, on the test's transaction.
api.app = get_wsgi_application()
# Derandomized: the same examples every run, so a failure is reproducible, not a flake.
# (OpenAPI 3.0 cannot state the metrics keys' limits; random keys could break the rule.)
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def in_test_transaction(db, settings):
    """Requests run on the test's transaction (as Django's test client runs them)."""
    # Each login attempt hashes a password; the fast hasher keeps the token endpoint quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzzed_session(student, coach, service) -> CoachingSession:
    """An active session with chat and a feedback card, for the path's `session_id`."""
    session = CoachingSession.objects.create(student=student, coach=coach, status="active")
    chat_message_post(session_id=session.session_id, sender=student, text="Hello")
    feedback_record(
        session_id=session.session_id,
        actor=service,
        swing_id="sw_1",
        summary="Open face.",
        metrics={},
        recommendations=[],
    )
    return session


def generated_validly(case, location: ParameterLocation) -> bool:
    info = case.meta.components.get(location) if case.meta else None
    return info is None or not info.mode.is_negative


def call_as(case, user: User, session: CoachingSession) -> None:
    """Send the case as `user`, with the fixture's ids where the schema can only say "an id"
    (a session, a student, a feedback card), unless the case is about that part being invalid.
    """
    path = case.path_parameters or {}
    if "session_id" in path and generated_validly(case, ParameterLocation.PATH):
        case.path_parameters = {**path, "session_id": session.session_id}
    if isinstance(case.body, dict) and generated_validly(case, ParameterLocation.BODY):
        known = {
            "student_id": session.student_id,
            "feedback_id": session.feedback.earliest("pk").pk,
        }
        replace = {k: v for k, v in known.items() if isinstance(case.body.get(k), int)}
        if replace:
            case.body = {**case.body, **replace}
    if not generated_validly(case, ParameterLocation.HEADER) and "Authorization" in (
        case.headers or {}
    ):
        case.call_and_validate()  # the case is about a malformed Authorization: keep it
    else:
        case.call_and_validate(headers={"Authorization": f"Bearer {token_for(user)}"})


@api.parametrize()
@FUZZ_SETTINGS
def test_api_as_the_service_keeps_to_its_schema(case, service, fuzzed_session):
    call_as(case, service, fuzzed_session)


@api.parametrize()
@FUZZ_SETTINGS
def test_api_as_a_coach_keeps_to_its_schema(case, coach, fuzzed_session):
    call_as(case, coach, fuzzed_session)
