"""One error shape everywhere: a stable code, a message, the fields at fault; no tracebacks."""

import json

import pytest
from rest_framework.test import APIClient

from coaching import selectors
from coaching.models import Feedback
from tests.api.support import session_url
from tests.support.auth import api_client_for

SESSION_ENDPOINTS = [
    ("get", ""),
    ("get", "messages"),
    ("get", "feedback"),
    ("post", "feedback"),
    ("post", "progress"),
    ("post", "notices"),
    ("get", "checkpoints"),
    ("post", "checkpoints"),
    ("post", "claim"),
]


@pytest.mark.parametrize("method, action", SESSION_ENDPOINTS)
def test_session_endpoints_need_credentials(active_session, method, action):
    response = getattr(APIClient(), method)(session_url(active_session, action), {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/sessions/"), ("post", "/api/sessions/"), ("post", "/api/auth/socket-token/")],
)
def test_other_endpoints_need_credentials(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401


def test_invalid_token_is_refused_with_a_code(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = client.get("/api/sessions/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_validation_error_names_every_offending_field(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "progress"), {"percent": 500}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("Invalid input: ")
    assert set(error["fields"]) == {"swing_id", "percent", "step"}


def test_malformed_json_is_a_400(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "progress"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_form_bodies_are_not_accepted(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "progress"), {"percent": 1}, format="multipart"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"metrics": {"note": "nul\u0000byte"}}, "metrics"),
        ({"metrics": {"key\u0000": 1}}, "metrics"),
        ({"metrics": {"lone": "\ud800"}}, "metrics"),
        ({"summary": "nul\u0000byte"}, "summary"),
        ({"summary": "lone \udfff"}, "summary"),
        ({"recommendations": ["ok", "bad\u0000"]}, "recommendations"),
    ],
    ids=[
        "nul-in-value",
        "nul-in-key",
        "lone-surrogate",
        "nul-in-text",
        "surrogate-in-text",
        "list",
    ],
)
def test_strings_the_database_cannot_store_are_refused_naming_the_field(
    service, active_session, body, field
):
    body = json.dumps({"swing_id": "sw", "summary": "s", **body})
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert list(response.json()["error"]["fields"]) == [field]
    assert not Feedback.objects.exists()


def test_keys_the_api_does_not_read_are_ignored_whatever_they_hold(service, active_session):
    body = json.dumps({"swing_id": "sw", "summary": "s", "extra\u0000": "\u0000"})
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), body, content_type="application/json"
    )
    assert response.status_code == 201


def test_deeply_nested_json_is_refused(service, active_session):
    body = '{"swing_id": "sw", "summary": "s", "metrics": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_wrong_method_is_a_405_in_the_error_shape(student, active_session):
    response = api_client_for(student).delete(session_url(active_session))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["/api/nothing-here/", "/api/sessions/bad!id/", "/api/sessions/sess_x/nope/"]
)
def test_unknown_api_paths_are_a_json_404(student, path):
    response = api_client_for(student).get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_unexpected_errors_are_a_json_500_without_traceback(
    student, active_session, monkeypatch, caplog
):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "visible_session", explode)
    response = api_client_for(student).get(session_url(active_session))
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "secret internals" not in response.content.decode()
    assert "secret internals" in caplog.text
