"""Shapes drawn on a frame: what an annotation or a live stroke may contain."""

import math

import pytest

from coaching.errors import ServiceError
from coaching.shapes import MAX_SHAPES, clean_shape, clean_shapes
from tests.api.test_annotations import ANGLE, BAD_SHAPES, CIRCLE, LINE

SOCKET_ONLY_BAD_SHAPES = {
    # What JSON over the socket can carry that the REST serializer already refuses.
    "NaN coordinate": {"kind": "line", "points": [[math.nan, 0], [1, 1]]},
    "infinite coordinate": {"kind": "line", "points": [[math.inf, 0], [1, 1]]},
    "boolean coordinate": {"kind": "line", "points": [[True, 0], [1, 1]]},
    "string coordinate": {"kind": "line", "points": [["0.5", 0], [1, 1]]},
    "unknown key": {**LINE, "width": 3},
    "colour not a string": {**LINE, "color": 0xFFCC00},
}


@pytest.mark.parametrize(
    "shape",
    [*BAD_SHAPES.values(), *SOCKET_ONLY_BAD_SHAPES.values()],
    ids=[*BAD_SHAPES, *SOCKET_ONLY_BAD_SHAPES],
)
def test_invalid_shape_is_refused(shape):
    with pytest.raises(ServiceError) as refused:
        clean_shape(shape)
    assert (refused.value.code, refused.value.field) == ("invalid_input", "shape")


@pytest.mark.parametrize("shape", [ANGLE, LINE, CIRCLE])
def test_valid_shape_is_kept(shape):
    assert clean_shape(shape) == {
        **shape,
        "points": [[float(x), float(y)] for x, y in shape["points"]],
    }


def test_integer_coordinates_at_the_edges_are_valid():
    assert clean_shape({"kind": "line", "points": [[0, 0], [1, 1]]})["points"] == [
        [0.0, 0.0],
        [1.0, 1.0],
    ]


def test_shapes_are_a_list_of_at_most_fifty():
    assert clean_shapes([]) == []
    assert len(clean_shapes([LINE] * MAX_SHAPES)) == MAX_SHAPES
    for bad in ([LINE] * (MAX_SHAPES + 1), LINE, None):
        with pytest.raises(ServiceError) as refused:
            clean_shapes(bad)
        assert refused.value.field == "shapes"
