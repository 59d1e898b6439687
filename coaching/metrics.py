"""The metric catalog: how a feedback card's metrics read to a coach.

One entry per metric key the Node API sends: its label in each language, unit,
decimal places, typical range and which way is better ("higher", "lower", or
"closer" to the range's middle). Pages render cards from it (catalog order first,
then unknown keys alphabetically with a humanized name).
"""

from typing import Any, TypedDict


class Metric(TypedDict):
    key: str
    label: dict[str, str]
    unit: str
    precision: int
    range: tuple[float, float] | None
    better: str


def _metric(key, ko, en, unit, precision, low, high, better) -> Metric:
    return {
        "key": key,
        "label": {"ko": ko, "en": en},
        "unit": unit,
        "precision": precision,
        "range": None if low is None else (low, high),
        "better": better,
    }


METRICS: list[Metric] = [
    _metric("face_angle", "페이스 각도", "Face angle", "°", 1, -2.0, 2.0, "closer"),
    _metric("club_path", "클럽 패스", "Club path", "°", 1, -3.0, 3.0, "closer"),
    _metric("tempo_score", "템포 점수", "Tempo score", "", 0, 70, 100, "higher"),
    # Downswing time over backswing time: about 1:3 in a good tempo.
    _metric("tempo_ratio", "템포 비율", "Tempo ratio", "", 2, 0.3, 0.36, "closer"),
    _metric("backswing_time_s", "백스윙 시간", "Backswing time", "s", 2, 0.7, 1.0, "closer"),
    _metric("downswing_time_s", "다운스윙 시간", "Downswing time", "s", 2, 0.23, 0.33, "closer"),
    _metric("hip_rotation_deg", "골반 회전", "Hip rotation", "°", 0, 40, 50, "closer"),
    _metric("shoulder_rotation_deg", "어깨 회전", "Shoulder rotation", "°", 0, 85, 100, "higher"),
    _metric("x_factor_deg", "X-팩터", "X-factor", "°", 0, 40, 55, "higher"),
    _metric("head_movement_cm", "머리 움직임", "Head movement", "cm", 1, 0, 5, "lower"),
    _metric("spine_angle_change_deg", "척추각 변화", "Spine angle change", "°", 1, 0, 5, "lower"),
    _metric("attack_angle", "어택 앵글", "Attack angle", "°", 1, -5.0, 5.0, "closer"),
    _metric("club_speed_mph", "클럽 스피드", "Club speed", "mph", 0, 80, 120, "higher"),
    _metric("ball_speed_mph", "볼 스피드", "Ball speed", "mph", 0, 120, 180, "higher"),
    _metric("smash_factor", "스매시 팩터", "Smash factor", "", 2, 1.4, 1.5, "higher"),
    _metric("consistency", "일관성", "Consistency", "", 2, 0.7, 1.0, "higher"),
]


def catalog() -> list[dict[str, Any]]:
    """The catalog as JSON-ready dicts, in display order."""
    return [{**m, "range": list(m["range"]) if m["range"] else None} for m in METRICS]
