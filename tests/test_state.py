"""The session state machine: every pair of statuses, allowed or refused."""

import pytest

from coaching.errors import ServiceError
from coaching.state import check_transition

ALLOWED = {
    ("waiting", "active"),
    ("waiting", "ended"),
    ("active", "paused"),
    ("active", "ended"),
    ("paused", "active"),
    ("paused", "ended"),
}
STATUSES = ["waiting", "active", "paused", "ended"]


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_transition_table(current, target):
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(ServiceError) as info:
            check_transition(current, target)
        assert info.value.code == "invalid_transition"


def test_unknown_status_names_the_field():
    with pytest.raises(ServiceError) as info:
        check_transition("active", "sleeping")
    assert (info.value.code, info.value.field) == ("invalid_input", "status")
