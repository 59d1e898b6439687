"""Rendered pages: who gets the session page, and what its scripts are given."""

from django.test import Client

from coaching import metrics
from coaching.models import Role


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
