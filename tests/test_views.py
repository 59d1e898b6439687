"""Rendered pages: who gets the session page, and what its scripts are given."""

import html
import json
import re

import pytest
from django.test import Client

from coaching import metrics
from coaching.models import Role
from coaching.replay import replay_document
from coaching.services.shares import share_create, share_path, share_revoke
from tests.support.library import driver_lesson


def page_for(user, session):
    client = Client()
    client.force_login(user)
    return client.get(f"/sessions/{session.session_id}/")


def test_a_coach_opens_a_waiting_session_as_a_read_only_preview(coach, waiting_session):
    response = page_for(coach, waiting_session)
    assert response.status_code == 200
    assert response.context["session_role"] == "preview"
    assert response.context["preview"] is True


def test_another_coachs_session_is_not_found(make_user, active_session):
    assert page_for(make_user(Role.COACH), active_session).status_code == 404


def test_the_session_page_gets_the_metric_catalog(student, active_session):
    response = page_for(student, active_session)
    assert (response.context["session_role"], response.context["preview"]) == ("student", False)
    assert response.context["metric_catalog"] == metrics.catalog()
    assert response.context["metric_levels"] == metrics.level_catalog()


# --- the replay (/sessions/{id}/replay/, a share link's …/replay/) ------------------------------


def replay_for(user, session):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(f"/sessions/{session.session_id}/replay/")


def people_with_ids(value) -> list:
    """Every person (`{id, name}`) anywhere in `value`."""
    if isinstance(value, list):
        return [p for item in value for p in people_with_ids(item)]
    if not isinstance(value, dict):
        return []
    found = [value] if "id" in value and "name" in value else []
    return found + [p for v in value.values() for p in people_with_ids(v)]


@pytest.fixture
def ended_lesson(student, coach, service):
    return driver_lesson(student, coach, service)


@pytest.mark.parametrize("who", ["student", "coach", "admin"])
def test_the_lessons_people_and_admins_open_its_replay_with_the_document_embedded(
    who, ended_lesson, student, coach, admin_user
):
    user = {"student": student, "coach": coach, "admin": admin_user}[who]
    response = replay_for(user, ended_lesson)
    assert response.status_code == 200
    assert response.context["replay"] == replay_document(ended_lesson)
    embedded = re.search(
        r'<script id="replay-data" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    assert json.loads(html.unescape(embedded.group(1))) == json.loads(
        json.dumps(replay_document(ended_lesson))
    )
    assert response.context["you"]["id"] == str(user.pk)


def test_anyone_else_finds_no_replay_and_a_signed_out_reader_is_sent_to_log_in(
    make_user, ended_lesson, waiting_session
):
    assert replay_for(make_user(Role.COACH), ended_lesson).status_code == 404
    assert replay_for(make_user(Role.STUDENT), ended_lesson).status_code == 404
    # A coach's preview of a waiting lesson is not a replay of it.
    assert replay_for(make_user(Role.COACH), waiting_session).status_code == 404
    response = replay_for(None, ended_lesson)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/sessions/")


def test_a_share_link_replays_with_display_names_only_until_it_is_revoked(
    ended_lesson, student, coach
):
    share, secret = share_create(session_id=ended_lesson.session_id, user=student)
    path = share_path(share.share_id, secret) + "replay/"
    response = Client().get(path)
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    page = response.content.decode()
    document = response.context["replay"]
    assert document["session"]["student"] == {"name": student.display_name}
    assert [e["seq"] for e in document["events"]] == [
        e["seq"] for e in replay_document(ended_lesson)["events"]
    ]
    for hidden in (ended_lesson.session_id, student.username, coach.username, '"eid"'):
        assert hidden not in page
    assert people_with_ids(document) == []
    assert people_with_ids(replay_document(ended_lesson)) != []  # what it removed
    assert response.context["you"] is None
    share_revoke(session_id=ended_lesson.session_id, share_id=share.share_id, user=student)
    gone = Client().get(path)
    assert gone.status_code == 410
    assert Client().get(share_path(share.share_id, "wrong" + secret) + "replay/").status_code == 404
