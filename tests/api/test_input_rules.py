"""What REST accepts is what its schema says: strict strings, checked query parameters,
bounded metrics, and the API's JSON 404 for any path under /api/."""

import json
import re

import pytest

from coaching.models import CoachingSession, Feedback
from tests.api.support import session_url
from tests.support.auth import api_client_for


def post_json(user, url: str, body: dict):
    return api_client_for(user).post(url, json.dumps(body), content_type="application/json")


def test_a_number_is_not_taken_for_a_title(student):
    response = post_json(student, "/api/sessions/", {"title": 0})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["title"]
    assert not CoachingSession.objects.exists()


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("feedback", {"swing_id": "sw", "summary": "s", "level": 0}, "level"),
        ("feedback", {"swing_id": 7, "summary": "s"}, "swing_id"),
        ("feedback", {"swing_id": "sw", "summary": "s", "recommendations": [1]}, "recommendations"),
        ("progress", {"swing_id": "sw", "percent": 5, "step": 0}, "step"),
        ("notices", {"text": "hi", "notice_id": 0}, "notice_id"),
        ("notices", {"text": False}, "text"),
    ],
)
def test_numbers_and_booleans_are_not_taken_for_strings(
    service, active_session, action, body, field
):
    response = post_json(service, session_url(active_session, action), body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_text_is_normalized_and_trimmed_as_on_the_socket(service, active_session):
    response = post_json(
        service,
        session_url(active_session, "notices"),
        {"text": "  Cafe\u0301 \u1100\u1161 \n"},
    )
    assert response.status_code == 201
    assert response.json()["text"] == "Caf\u00e9 \uac00"


@pytest.mark.parametrize(
    "query",
    ["status=", "status=flying", "page=abc", "page=0", "page=-1", "page_size=abc", "page_size=0"],
)
def test_garbage_query_parameters_are_refused(student, query):
    response = api_client_for(student).get(f"/api/sessions/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert list(response.json()["error"]["fields"]) == [query.split("=")[0]]


@pytest.mark.parametrize("query", ["after_seq=", "after_seq=x", "after_seq=-1", "page_size=x"])
def test_garbage_history_query_parameters_are_refused(student, active_session, query):
    response = api_client_for(student).get(f"{session_url(active_session, 'messages')}?{query}")
    assert response.status_code == 400


def test_the_schema_states_the_query_rules():
    from tests.api.test_schema import openapi

    parameters = {
        p["name"]: p["schema"] for p in openapi()["paths"]["/api/sessions/"]["get"]["parameters"]
    }
    assert parameters["page"]["minimum"] == 1
    assert parameters["page_size"]["minimum"] == 1
    assert parameters["status"]["enum"]


def test_request_strings_declare_that_nul_is_refused():
    from tests.api.test_schema import openapi

    schemas = openapi()["components"]["schemas"]
    # A required text must also hold something besides spaces once trimmed.
    step = schemas["ProgressRequest"]["properties"]["step"]["pattern"]
    assert step.startswith("^[^\\u0000]*[^\\s\\u0000\\u001c-\\u001f\\u0085\\u00ad")
    assert schemas["NoticeCreateRequest"]["properties"]["notice_id"]["pattern"]
    title = schemas["SessionCreateRequest"]["properties"]["title"]["oneOf"][0]  # or blank
    assert title["pattern"] == "^[^\\u0000]*$"


# --- Metrics --------------------------------------------------------------------------


def nested(levels: int) -> dict:
    value: dict = {"x": 1}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    "metrics",
    [
        {"face_angle": 18446744073709551616},
        {"face_angle": -(10**15) - 1},
        {"big": 1e300},
        {"note": "x" * 201},
        {"k" * 65: 1},
        {"missing": None},
        nested(5),
        {"many": list(range(101))},
        {f"k{i}": "x" * 190 for i in range(90)},
        "not an object",
        [1, 2],
    ],
    ids=[
        "2**64",
        "below -1e15",
        "1e300",
        "long string",
        "long key",
        "null",
        "5 levels",
        "101 items",
        "over 16 KiB",
        "string",
        "list",
    ],
)
def test_metrics_that_cannot_be_stored_and_broadcast_intact_are_refused(
    service, active_session, metrics
):
    body = {"swing_id": "sw", "summary": "s", "metrics": metrics}
    response = post_json(service, session_url(active_session, "feedback"), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == ["metrics"]
    assert error["fields"]["metrics"][0]
    assert not Feedback.objects.exists()


def test_infinity_written_as_a_huge_exponent_is_refused(service, active_session):
    body = '{"swing_id": "sw", "summary": "s", "metrics": {"a": 1e400}}'
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert not Feedback.objects.exists()


def test_metrics_within_the_limits_are_stored_as_sent(service, active_session):
    metrics = {
        "face_angle": -5.25,
        "tempo": {"ratio": 3.1, "phases": [{"name": "back", "ms": 800}, True]},
        "max": 10**15,
        "label": "x" * 200,
        "k" * 64: False,
    }
    body = {"swing_id": "sw", "summary": "s", "metrics": metrics}
    response = post_json(service, session_url(active_session, "feedback"), body)
    assert response.status_code == 201
    assert response.json()["metrics"] == metrics
    assert Feedback.objects.get().metrics == metrics


# --- Paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/sessions/sess_x%0A/", "/api/sessions/a%0Ab/messages/", "/api/%0A/"]
)
def test_a_path_with_a_newline_gets_the_json_404(student, path):
    response = api_client_for(student).get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("shown_nothing", ["\u200b\u200b", " \ufeff\u2060 ", "\u3164", "\u200d\n"])
def test_text_that_shows_nothing_is_blank(student, service, active_session, shown_nothing):
    chat = post_json(student, session_url(active_session, "messages"), {"message": shown_nothing})
    assert chat.status_code == 400
    assert chat.json()["error"]["fields"] == {"message": ["message is empty."]}
    notice = post_json(service, session_url(active_session, "notices"), {"text": shown_nothing})
    assert notice.status_code == 400
    assert list(notice.json()["error"]["fields"]) == ["text"]


def test_the_schema_says_invisible_text_is_blank():
    from coaching.api.fields import NONBLANK_SCHEMA_PATTERN

    assert not re.search(NONBLANK_SCHEMA_PATTERN, "\u200b \u3164")
    assert re.search(NONBLANK_SCHEMA_PATTERN, "a\u200d")
