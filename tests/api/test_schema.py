"""The OpenAPI schema: valid, complete, served with offline docs (fuzzed against the API
in test_schemathesis.py)."""

import json
import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from coaching.api.schema_docs import DESCRIPTION


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
    variants = schemas["AnnotationCreateRequest"]["properties"]["shapes"]["items"]["oneOf"]
    points = {
        k: v["properties"]["points"]["maxItems"]
        for v in variants
        for k in v["properties"]["kind"]["enum"]
    }
    assert points == {"line": 2, "arrow": 2, "circle": 2, "angle": 3}


@pytest.mark.parametrize("needle", ["/socket/websocket", "lobby:coaches", "last_seq", "vsn=2.0.0"])
def test_description_explains_the_socket(needle):
    assert needle in DESCRIPTION


@pytest.mark.parametrize("event", SOCKET_EVENTS)
def test_description_documents_every_socket_event(event):
    assert f"`{event}`" in DESCRIPTION
