"""Annotations over REST: the coach saves drawings on a swing's frame; participants read them."""

import pytest

from coaching.models import Annotation, SessionEvent
from coaching.services.swings import swing_attach
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named

ANGLE = {"kind": "angle", "points": [[0.42, 0.2], [0.45, 0.55], [0.6, 0.6]]}
LINE = {"kind": "line", "points": [[0.1, 0.9], [0.9, 0.9]], "color": "#ffcc00"}
CIRCLE = {"kind": "circle", "points": [[0.5, 0.3], [0.55, 0.3]]}
ARROW = {"kind": "arrow", "points": [[0, 0], [1, 1]], "color": "#FF3B30"}


@pytest.fixture
def swing(service, active_session) -> dict:
    swing, _ = swing_attach(
        session_id=active_session.session_id,
        actor=service,
        swing={"swing_id": "sw_1", "video_url": "/static/demo/swing-demo.mp4", "duration_ms": 3500},
    )
    return swing


def body(**changes):
    return {"swing_id": "sw_1", "time_ms": 1200, "shapes": [ANGLE], "note": "", **changes}


def save(user, session, data):
    return api_client_for(user).post(session_url(session, "annotations"), data, format="json")


def test_coach_saves_an_annotation_and_everyone_gets_annotation_added(coach, active_session, swing):
    shapes = [ANGLE, LINE, CIRCLE, ARROW]
    with captured_broadcasts() as sent:
        response = save(coach, active_session, body(shapes=shapes, note="  Keep the angle. "))
    assert response.status_code == 201
    saved = response.json()
    assert saved["seq"] == 2  # after swing:added
    assert saved["session_id"] == active_session.session_id
    assert (saved["swing_id"], saved["time_ms"], saved["note"]) == ("sw_1", 1200, "Keep the angle.")
    assert saved["coach"] == {"id": str(coach.pk), "name": "IanPro"}
    # Stored as given, coordinates as numbers and colours in lower case.
    assert saved["shapes"][0] == {
        "kind": "angle",
        "points": [[0.42, 0.2], [0.45, 0.55], [0.6, 0.6]],
    }
    assert saved["shapes"][3] == {"kind": "arrow", "points": [[0, 0], [1, 1]], "color": "#ff3b30"}
    assert events_named(sent, "annotation:added") == [saved]
    logged = SessionEvent.objects.get(session=active_session, seq=2)
    assert (logged.event, logged.payload) == ("annotation:added", saved)


def test_a_note_without_shapes_is_an_annotation(coach, active_session, swing):
    response = save(coach, active_session, body(shapes=[], note="Watch the hips here."))
    assert response.status_code == 201


def test_at_most_fifty_shapes(coach, active_session, swing):
    assert save(coach, active_session, body(shapes=[LINE] * 50)).status_code == 201
    response = save(coach, active_session, body(shapes=[LINE] * 51))
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["shapes"]


BAD_SHAPES = {
    "unknown kind": {"kind": "rectangle", "points": [[0, 0], [1, 1]]},
    "line with 3 points": {"kind": "line", "points": [[0, 0], [0.5, 0.5], [1, 1]]},
    "arrow with 1 point": {"kind": "arrow", "points": [[0, 0]]},
    "angle with 2 points": {"kind": "angle", "points": [[0, 0], [1, 1]]},
    "circle with 3 points": {"kind": "circle", "points": [[0, 0], [0.5, 0.5], [1, 1]]},
    "x above 1": {"kind": "line", "points": [[0, 0], [1.01, 0.5]]},
    "y below 0": {"kind": "line", "points": [[0, -0.01], [1, 0.5]]},
    "coordinate not a number": {"kind": "line", "points": [[0, "a"], [1, 0.5]]},
    "point with 3 coordinates": {"kind": "line", "points": [[0, 0, 0], [1, 0.5]]},
    "point not a list": {"kind": "line", "points": [{"x": 0, "y": 0}, [1, 0.5]]},
    "points missing": {"kind": "line"},
    "kind missing": {"points": [[0, 0], [1, 1]]},
    "colour name": {**LINE, "color": "red"},
    "short colour": {**LINE, "color": "#fc0"},
    "not an object": [[0, 0], [1, 1]],
}


@pytest.mark.parametrize("shape", BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_invalid_shapes_are_refused(coach, active_session, swing, shape):
    response = save(coach, active_session, body(shapes=[ANGLE, shape]))
    assert response.status_code == 400, response.json()
    assert list(response.json()["error"]["fields"]) == ["shapes"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("swing_id", "sw_unknown"),
        ("time_ms", -1),
        ("time_ms", 3501),  # beyond the swing's duration
        ("time_ms", "soon"),
        ("shapes", "angle"),
        ("note", "x" * 501),
    ],
)
def test_invalid_annotations_are_refused_naming_the_field(
    coach, active_session, swing, field, value
):
    response = save(coach, active_session, body(**{field: value}))
    assert response.status_code == 400, response.json()
    assert list(response.json()["error"]["fields"]) == [field]
    assert not Annotation.objects.exists()


def test_an_empty_annotation_is_refused(coach, active_session, swing):
    response = save(coach, active_session, body(shapes=[], note="   "))
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["shapes"]


def test_a_note_of_500_characters_is_fine(coach, active_session, swing):
    assert save(coach, active_session, body(note="가" * 500)).status_code == 201


@pytest.mark.parametrize("who", ["student", "admin_user", "service"])
def test_only_the_sessions_coach_saves_annotations(request, active_session, swing, who):
    response = save(request.getfixturevalue(who), active_session, body())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_another_coach_does_not_see_the_session(make_user, active_session, swing):
    assert save(make_user("coach"), active_session, body()).status_code == 404


def test_no_annotations_after_the_session_ended(coach, active_session, swing):
    active_session.status = "ended"
    active_session.save()
    response = save(coach, active_session, body())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"


@pytest.mark.parametrize(("who", "expected"), PARTICIPANT_READS)
def test_who_reads_the_annotations(request, coach, active_session, swing, who, expected):
    saved = save(coach, active_session, body()).json()
    response = api_client_for(request.getfixturevalue(who)).get(
        session_url(active_session, "annotations")
    )
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["results"] == [saved]
