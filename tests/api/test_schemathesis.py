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
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from coaching.models import CoachingSession, User
from coaching.services.analysis import feedback_record
from coaching.services.chat import chat_message_post
from coaching.services.swings import swing_attach
from tests.support.auth import token_for


def openapi() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


# A value the schema refuses may also be refused as too large (413): a swing upload that
# announces more than SWING_UPLOAD_MAX_BYTES (`too_large`, which the page names as such).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *"400 401 403 404 405 406 409 413 415 422 428 429".split(),
                    "5xx",
                ]
            }
        }
    }
)
api = schemathesis.openapi.from_dict(openapi(), config=CONFIG).exclude(path="/api/schema/")
# Requests, and the checks' own probes (e.g. the same call without credentials), go to
# the WSGI app in this process, on the test's transaction.
api.app = get_wsgi_application()
# Derandomized: the same examples every run, so a failure is reproducible, not a flake.
# (OpenAPI 3.0 cannot state the metrics keys' limits; random keys could break the rule.)
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: CI is not a lottery
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


FUZZED_SWING_MS = 3200


@pytest.fixture
def fuzzed_session(student, coach, service) -> CoachingSession:
    """An active session with chat, a feedback card and a swing, for the path's `session_id`."""
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
    swing_attach(  # the swing the annotation example draws on
        session_id=session.session_id,
        actor=service,
        swing={
            "swing_id": "sw_999",
            "video_url": "/media/sw_999.mp4",
            "duration_ms": FUZZED_SWING_MS,
        },
    )
    return session


def generated_validly(case, location: ParameterLocation) -> bool:
    info = case.meta.components.get(location) if case.meta else None
    return info is None or not info.mode.is_negative


def without_nul_keys(value):
    """Rules on keys (no NUL in metrics' keys) cannot be stated in OpenAPI 3.0, so valid
    cases keep to the documented rule the way a real caller would."""
    if isinstance(value, dict):
        return {k.replace("\x00", ""): without_nul_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul_keys(v) for v in value]
    return value


def within_durations(body: dict) -> dict:
    """Key frames lie within their swing's `duration_ms`: a rule across two fields that
    the schema cannot state, so valid cases keep to it the way a real caller would."""
    swings = body.get("swings")
    if isinstance(swings, list):
        swings = [within_durations(s) if isinstance(s, dict) else s for s in swings]
        body = {**body, "swings": swings}
    frames, duration = body.get("key_frames"), body.get("duration_ms")
    if isinstance(frames, dict):  # names of 1-30 characters, not all spaces (keys again)
        limit = duration if isinstance(duration, int) else None
        frames = {
            (k[:30] if k[:30].strip() else f"k{i}"): (min(v, limit) if limit is not None else v)
            for i, (k, v) in enumerate(frames.items())
        }
        body = {**body, "key_frames": frames}
    return body


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
        case.body = within_durations(without_nul_keys(case.body))
        # Annotations: on the fixture's swing, within it (rules across fields).
        if case.path.endswith("/annotations/"):
            time_ms = case.body.get("time_ms")
            if isinstance(time_ms, int):
                time_ms = min(time_ms, FUZZED_SWING_MS)
            case.body = {**case.body, "swing_id": "sw_999", "time_ms": time_ms}
            if not case.body.get("shapes") and not str(case.body.get("note", "")).strip():
                case.body["note"] = "A note"  # an annotation holds a shape or a note
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
