"""What a drawing on a swing's frame is: the shapes of annotations and of live strokes.

Coordinates are normalized to the video frame (0..1 from the top-left corner), so
a phone and a laptop showing the same frame at different sizes agree.
"""

import math
import re
from typing import Any

from coaching.errors import invalid

MAX_SHAPES = 50
# How many points each kind of shape has.
POINTS_PER_KIND = {
    "line": 2,  # from, to
    "arrow": 2,  # tail, head
    "angle": 3,  # one end, the vertex, the other end
    "circle": 2,  # centre, a point on the circle
}
KINDS = tuple(POINTS_PER_KIND)
COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _coordinate(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(field, "Coordinates must be numbers.")
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise invalid(field, "Coordinates must be between 0 and 1 (normalized to the frame).")
    return float(value)


def clean_shape(value: Any, field: str = "shape") -> dict[str, Any]:
    """One shape, checked: `{kind, points, color?}`; other keys are refused."""
    if not isinstance(value, dict):
        raise invalid(field, "A shape must be an object.")
    unknown = set(value) - {"kind", "points", "color"}
    if unknown:
        raise invalid(field, f"Unknown shape keys: {', '.join(sorted(map(str, unknown)))}.")
    kind = value.get("kind")
    if kind not in POINTS_PER_KIND:
        raise invalid(field, f"kind must be one of {', '.join(KINDS)}.")
    points = value.get("points")
    count = POINTS_PER_KIND[kind]
    if not isinstance(points, list) or len(points) != count:
        raise invalid(field, f"A {kind} has exactly {count} points.")
    cleaned_points = []
    for point in points:
        if not isinstance(point, list) or len(point) != 2:
            raise invalid(field, "A point is [x, y].")
        cleaned_points.append([_coordinate(point[0], field), _coordinate(point[1], field)])
    shape: dict[str, Any] = {"kind": kind, "points": cleaned_points}
    color = value.get("color")
    if color is not None:
        if not isinstance(color, str) or not COLOR.fullmatch(color):
            raise invalid(field, "color must be #rrggbb.")
        shape["color"] = color.lower()
    return shape


def clean_shapes(value: Any, field: str = "shapes") -> list[dict[str, Any]]:
    """The shapes of an annotation: a list of at most MAX_SHAPES valid shapes."""
    if not isinstance(value, list):
        raise invalid(field, "shapes must be a list.")
    if len(value) > MAX_SHAPES:
        raise invalid(field, f"At most {MAX_SHAPES} shapes.")
    return [clean_shape(shape, field) for shape in value]
