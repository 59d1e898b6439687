"""The metric catalog: how a swing metric from the AI analysis is named, measured and read.

The one place that knows, for each metric key the Node API sends: its label in Korean
and English, unit, decimals, typical range and which way is better; and what each
level badge means. Pages get it as JSON (`catalog()` and `level_catalog()`, rendered
with `json_script`),
the admin renders cards with it. Keys the catalog does not know are shown with a
label made from the key (`metric_label`) and their value as it came.
"""

from dataclasses import dataclass
from typing import Any, Literal

BetterWhen = Literal["higher", "lower", "closer_to_range"]


@dataclass(frozen=True)
class Metric:
    key: str
    label_ko: str
    label_en: str
    unit: str  # "" for a plain number or a score
    decimals: int
    typical: tuple[float, float] | None  # a good player's range, in `unit`
    better: BetterWhen
    aliases: tuple[str, ...] = ()  # other keys the Node API uses for it (e.g. with a unit)

    def as_json(self, key: str | None = None) -> dict[str, Any]:
        """The page's entry; `key` names an alias entry (same metric, the Node API's key)."""
        entry = {
            "key": key or self.key,
            "label": {"ko": self.label_ko, "en": self.label_en},
            "unit": self.unit,
            "precision": self.decimals,
            "range": list(self.typical) if self.typical else None,
            "better": self.better,
        }
        if key is not None:
            entry["alias_of"] = self.key
        return entry


# In display order: the club at impact, the ball, the body, then timing.
METRICS: tuple[Metric, ...] = (
    Metric(
        "face_angle",
        "페이스 각도",
        "Face angle",
        "°",
        1,
        (-2, 2),
        "closer_to_range",
        ("face_angle_deg",),
    ),
    Metric(
        "club_path",
        "클럽 패스",
        "Club path",
        "°",
        1,
        (-3, 3),
        "closer_to_range",
        ("club_path_deg",),
    ),
    Metric(
        "face_to_path",
        "페이스 투 패스",
        "Face to path",
        "°",
        1,
        (-2, 2),
        "closer_to_range",
        ("face_to_path_deg",),
    ),
    Metric(
        "attack_angle",
        "어택 앵글",
        "Angle of attack",
        "°",
        1,
        (-5, 5),
        "closer_to_range",
        ("attack_angle_deg", "angle_of_attack"),
    ),
    Metric(
        "swing_speed",
        "스윙 스피드",
        "Swing speed",
        "mph",
        1,
        (85, 115),
        "higher",
        ("club_speed", "swing_speed_mph", "club_speed_mph"),
    ),
    Metric(
        "ball_speed", "볼 스피드", "Ball speed", "mph", 1, (125, 170), "higher", ("ball_speed_mph",)
    ),
    Metric("smash_factor", "스매시 팩터", "Smash factor", "", 2, (1.4, 1.5), "higher"),
    Metric(
        "launch_angle",
        "발사각",
        "Launch angle",
        "°",
        1,
        (10, 16),
        "closer_to_range",
        ("launch_angle_deg",),
    ),
    Metric(
        "spin_rate",
        "스핀량",
        "Spin rate",
        "rpm",
        0,
        (2000, 3000),
        "closer_to_range",
        ("spin_rate_rpm", "spin"),
    ),
    Metric(
        "carry_distance",
        "캐리 거리",
        "Carry distance",
        "m",
        0,
        (180, 250),
        "higher",
        ("carry", "carry_m", "carry_distance_m"),
    ),
    Metric(
        "hip_rotation",
        "골반 회전",
        "Hip rotation",
        "°",
        0,
        (40, 50),
        "closer_to_range",
        ("hip_rotation_deg", "hip_turn"),
    ),
    Metric(
        "shoulder_rotation",
        "어깨 회전",
        "Shoulder rotation",
        "°",
        0,
        (85, 100),
        "closer_to_range",
        ("shoulder_rotation_deg", "shoulder_turn"),
    ),
    Metric(
        "x_factor", "X-팩터", "X-factor", "°", 0, (40, 55), "closer_to_range", ("x_factor_deg",)
    ),
    Metric(
        "spine_angle",
        "척추 각도",
        "Spine angle",
        "°",
        0,
        (30, 40),
        "closer_to_range",
        ("spine_angle_deg", "spine_tilt"),
    ),
    Metric(
        "head_movement",
        "머리 움직임",
        "Head movement",
        "cm",
        1,
        (0, 5),
        "lower",
        ("head_movement_cm", "head_sway"),
    ),
    Metric(
        "weight_shift",
        "체중 이동",
        "Weight shift",
        "%",
        0,
        (80, 95),
        "closer_to_range",
        ("weight_shift_pct", "weight_transfer"),
    ),
    Metric(
        "tempo_ratio",
        "템포 비율",
        "Tempo ratio",
        ":1",
        2,
        (2.8, 3.2),
        "closer_to_range",
        ("tempo",),
    ),
    Metric(
        "consistency",
        "일관성",
        "Consistency",
        "",
        2,
        (0.7, 1.0),
        "higher",
        ("consistency_score",),
    ),
    Metric(
        "backswing_time",
        "백스윙 시간",
        "Backswing time",
        "s",
        2,
        (0.7, 1.0),
        "closer_to_range",
        ("backswing_time_s",),
    ),
    Metric(
        "downswing_time",
        "다운스윙 시간",
        "Downswing time",
        "s",
        2,
        (0.23, 0.33),
        "closer_to_range",
        ("downswing_time_s",),
    ),
    Metric("tempo_score", "템포 점수", "Tempo score", "", 0, (70, 100), "higher"),
    Metric("balance_score", "밸런스 점수", "Balance score", "", 0, (70, 100), "higher"),
)


@dataclass(frozen=True)
class Level:
    key: str
    label_ko: str
    label_en: str
    about_ko: str
    about_en: str

    def as_json(self) -> dict[str, Any]:
        return {
            "label": {"ko": self.label_ko, "en": self.label_en},
            "about": {"ko": self.about_ko, "en": self.about_en},
        }


# The AI's estimate of the swing's level, lowest first.
LEVELS: tuple[Level, ...] = (
    Level(
        "beginner",
        "입문",
        "Beginner",
        "기본 셋업과 스윙 궤도를 익히는 단계입니다.",
        "Still building the set-up and a repeatable swing path.",
    ),
    Level(
        "intermediate",
        "중급",
        "Intermediate",
        "스윙은 안정적이지만 임팩트의 일관성을 다듬는 단계입니다.",
        "A stable swing; consistency at impact is the next step.",
    ),
    Level(
        "advanced",
        "상급",
        "Advanced",
        "일관된 임팩트로 구질과 거리를 조절하는 단계입니다.",
        "Consistent impact; shaping shots and controlling distance.",
    ),
    Level(
        "pro",
        "프로",
        "Pro",
        "투어 선수 수준의 일관성과 스피드입니다.",
        "Tour-level consistency and speed.",
    ),
)

_UNITS_WITHOUT_SPACE = ("", "°", "%", ":1")
_BY_KEY = {m.key: m for m in METRICS}
_ALIASES = {alias: m.key for m in METRICS for alias in m.aliases}
_LEVELS = {level.key: level for level in LEVELS}


def metric_for(key: str) -> Metric | None:
    """The catalog entry for a key the Node API sent (its own key or an alias)."""
    return _BY_KEY.get(key) or _BY_KEY.get(_ALIASES.get(key, ""))


def metric_label(key: str, language: str = "ko") -> str:
    """A human label: the catalog's, or one made from an unknown key ("hand_speed" →
    "Hand speed")."""
    metric = metric_for(key)
    if metric is None:
        return key.replace("_", " ").strip().capitalize() or key
    return metric.label_ko if language == "ko" else metric.label_en


def format_value(key: str, value: Any) -> str:
    """A metric value as a coach reads it: the catalog's decimals and unit; others as
    they came (nested values are the caller's to render as sub-rows)."""
    metric = metric_for(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if metric is None:
        return f"{value:g}"
    number = f"{value:.{metric.decimals}f}"
    if metric.unit in _UNITS_WITHOUT_SPACE:
        return number + metric.unit
    return f"{number} {metric.unit}"


def format_range(metric: Metric) -> str:
    """The typical range as a coach reads it: "40~50°", "0.70~1.00 s"."""
    if metric.typical is None:
        return ""
    low, high = (f"{bound:.{metric.decimals}f}" for bound in metric.typical)
    unit = metric.unit if metric.unit in _UNITS_WITHOUT_SPACE else f" {metric.unit}"
    return f"{low}~{high}{unit}"


def ordered(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """A card's metrics in catalog order, unknown keys after them alphabetically: the
    same order on every screen and after every reload."""
    position = {m.key: i for i, m in enumerate(METRICS)}

    def rank(item: tuple[str, Any]) -> tuple[int, str]:
        metric = metric_for(item[0])
        return (position[metric.key] if metric else len(METRICS), item[0])

    return sorted(metrics.items(), key=rank)


def level_for(key: str) -> Level | None:
    return _LEVELS.get(key.strip().lower()) if key else None


def catalog() -> list[dict[str, Any]]:
    """The metric catalog for pages, in display order: one entry per key the Node API may
    send (`{key, label: {ko, en}, unit, precision, range: [low, high] | null, better}`),
    an alias's entry right after its metric's, with `alias_of`."""
    return [
        entry
        for m in METRICS
        for entry in (m.as_json(), *(m.as_json(alias) for alias in m.aliases))
    ]


def level_catalog() -> list[dict[str, Any]]:
    """The level badges for pages, lowest first: `{key, label: {ko, en}, about: {ko, en}}`."""
    return [{"key": level.key, **level.as_json()} for level in LEVELS]
