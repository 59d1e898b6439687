"""The OpenAPI schema: valid, complete, served with offline docs, and true to the API."""

import json
import re

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coaching.api.schema_docs import DESCRIPTION
from coaching.models import CoachingSession, User
from coaching.services.analysis import feedback_record
from coaching.services.chat import chat_message_post
from coaching.services.swings import swing_attach
from tests.support.auth import token_for


def openapi() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def test_generated_schema_is_valid_openapi_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_schema_and_docs_are_served_to_anyone(db):
    client = APIClient()
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/sessions/{session_id}/feedback/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    for url in assets:  # all served by this app: the docs work offline
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url


CONTRACT = {
    ("/api/auth/token/", "post"),
    ("/api/auth/token/refresh/", "post"),
    ("/api/sessions/", "get"),
    ("/api/sessions/", "post"),
    ("/api/sessions/{session_id}/", "get"),
    ("/api/sessions/{session_id}/claim/", "post"),
    ("/api/sessions/{session_id}/messages/", "get"),
    ("/api/sessions/{session_id}/feedback/", "get"),
    ("/api/sessions/{session_id}/feedback/", "post"),
    ("/api/sessions/{session_id}/progress/", "post"),
    ("/api/sessions/{session_id}/notices/", "post"),
    ("/api/sessions/{session_id}/checkpoints/", "get"),
    ("/api/sessions/{session_id}/checkpoints/", "post"),
    ("/api/sessions/{session_id}/swings/", "get"),
    ("/api/sessions/{session_id}/swings/", "post"),
    ("/api/sessions/{session_id}/annotations/", "get"),
    ("/api/sessions/{session_id}/annotations/", "post"),
}


def test_every_contract_endpoint_is_documented_with_schemas_and_errors():
    paths = openapi()["paths"]
    for path, method in CONTRACT:
        operation = paths[path][method]
        assert operation.get("description"), (path, method)
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, (path, method)
        for code in success:
            assert "schema" in operation["responses"][code]["content"]["application/json"]
        errors = [code for code in operation["responses"] if code[0] in "45"]
        assert "401" in errors or path.startswith("/api/auth/token"), (path, method)
        for code in errors:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, code)
        if method == "post" and not path.endswith("/claim/"):
            assert "requestBody" in operation, (path, method)


SOCKET_EVENTS = [
    "phx_join",
    "chat:new",
    "chat:added",
    "session:control",
    "session:state",
    "swing:progress",
    "ai:feedback",
    "system:notice",
    "checkpoint:added",
    "presence:state",
    "presence:diff",
    "session:waiting",
    "session:claimed",
    "session:ended",
    "swing:added",
    "annotation:save",
    "annotation:added",
    "review:update",
    "review:state",
    "review:lead",
    "review:stroke",
    "review:clear",
]


@pytest.mark.parametrize(
    ("path", "examples"),
    [
        (
            "/api/sessions/{session_id}/swings/",
            {"A driver swing, face-on", "Only what is required"},
        ),
        ("/api/sessions/{session_id}/annotations/", {"Spine angle at the top"}),
    ],
)
def test_swing_and_annotation_posts_have_examples(path, examples):
    content = openapi()["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    assert {example["summary"] for example in content["examples"].values()} == examples


def test_annotation_shapes_are_described_in_the_schema():
    schemas = openapi()["components"]["schemas"]
    shape = schemas["Shape"]
    kind = schemas[shape["properties"]["kind"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]]
    assert kind["enum"] == ["line", "arrow", "angle", "circle"]
    assert shape["properties"]["points"]["maxItems"] == 3


@pytest.mark.parametrize("needle", ["/socket/websocket", "lobby:coaches", "last_seq", "vsn=2.0.0"])
def test_description_explains_the_socket(needle):
    assert needle in DESCRIPTION


@pytest.mark.parametrize("event", SOCKET_EVENTS)
def test_description_documents_every_socket_event(event):
    assert f"`{event}`" in DESCRIPTION


# --- Fuzzing the API from its own schema ----------------------------------------
# Every operation as the service account (the Node API), which may call most of them;
# the coach-only writes as a coach. The coverage phase walks each schema's edge
# cases; the fuzzing phase adds a few random ones.

api = schemathesis.openapi.from_dict(openapi()).exclude(path="/api/schema/")
coach_api = api.include(path_regex=r"/(claim|checkpoints|annotations)/$")
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app(db, settings):
    """The WSGI app on the test's transaction (as Django's test client runs it)."""
    # Each login attempt hashes a password; the fast hasher keeps the token endpoint quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
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
    swing_attach(  # the swing the annotation example draws on
        session_id=session.session_id,
        actor=service,
        swing={"swing_id": "sw_999", "video_url": "/media/sw_999.mp4", "duration_ms": 3200},
    )
    return session


def call_as(case, user: User, session: CoachingSession, app) -> None:
    if "session_id" in (case.path_parameters or {}):
        case.path_parameters["session_id"] = session.session_id
    response = case.call(app=app, headers={"Authorization": f"Bearer {token_for(user)}"})
    case.validate_response(response, checks=CHECKS)


@api.parametrize()
@FUZZ_SETTINGS
def test_api_as_the_service_never_fails_or_strays_from_its_schema(
    case, service, fuzzed_session, wsgi_app
):
    call_as(case, service, fuzzed_session, wsgi_app)


@coach_api.parametrize()
@FUZZ_SETTINGS
def test_coach_actions_never_fail_or_stray_from_their_schema(case, coach, fuzzed_session, wsgi_app):
    call_as(case, coach, fuzzed_session, wsgi_app)
