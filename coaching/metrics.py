"""The metric catalog: how a swing metric from the AI analysis is named, measured and read.

The one place that knows, for each metric key the Node API sends: its label in Korean
and English, unit, decimals, typical range, which way is better and, for signed
metrics, what each sign means in words (a face 5.2° *open*); for each analysis step it
reports, its name; which unit each language reads speeds and distances in (Korean: head
speed in m/s, carry in metres; English: mph and yards); and what each level badge
means. Pages get it as JSON (`catalog()` and `level_catalog()`, rendered with
`json_script`), the admin renders cards with it. Keys the catalog does not know are
labelled from a glossary of golf words when every word of the key is in it ("hand_speed"
→ "손 스피드"), else with a neutral label ("기타 지표"), never the raw key on a Korean
page; a unit suffix of such a key ("_mph") is read as its unit (`metric_label`,
`format_value`).
"""

import re
from dataclasses import dataclass
from typing import Any, Literal

BetterWhen = Literal["higher", "lower", "closer_to_range"]


@dataclass(frozen=True)
class Direction:
    """What the sign of a signed metric means, in words (right-handed golfer)."""

    positive_ko: str
    positive_en: str
    negative_ko: str
    negative_en: str

    def word(self, value: float, language: str) -> str:
        if value == 0:
            return ""
        if value > 0:
            return self.positive_ko if language == "ko" else self.positive_en
        return self.negative_ko if language == "ko" else self.negative_en

    def as_json(self) -> dict[str, dict[str, str]]:
        return {
            "positive": {"ko": self.positive_ko, "en": self.positive_en},
            "negative": {"ko": self.negative_ko, "en": self.negative_en},
        }


OPEN_CLOSED = Direction("열림", "open", "닫힘", "closed")
IN_OUT = Direction("인-아웃", "in-to-out", "아웃-인", "out-to-in")
UP_DOWN = Direction("상향", "upward", "하향", "downward")


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
    direction: Direction | None = None  # signed metrics: what + and - mean

    def as_json(self, key: str | None = None) -> dict[str, Any]:
        """The page's entry; `key` names an alias entry (same metric, the Node API's key)."""
        entry = {
            "key": key or self.key,
            "label": {"ko": self.label_ko, "en": self.label_en},
            "unit": self.unit,
            "precision": self.decimals,
            "range": list(self.typical) if self.typical else None,
            "better": self.better,
            "direction": self.direction.as_json() if self.direction else None,
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
        OPEN_CLOSED,
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
        IN_OUT,
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
        OPEN_CLOSED,
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
        UP_DOWN,
    ),
    # Korean golfers speak of the club's head speed, in m/s (`READS_IN`).
    Metric(
        "swing_speed",
        "헤드 스피드",
        "Club head speed",
        "mph",
        1,
        (85, 115),
        "higher",
        (
            "club_speed",
            "swing_speed_mph",
            "club_speed_mph",
            "head_speed",
            "club_head_speed",
            "head_speed_mph",
        ),
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


@dataclass(frozen=True)
class Step:
    """A step of the AI analysis as the Node API reports it (`step` of a progress tick)."""

    key: str
    label_ko: str
    label_en: str


# Every step the Node API reports, in the order an analysis goes through them; the swing's
# phases are the steps of a pose analysis that reports them.
STEPS: tuple[Step, ...] = (
    Step("queued", "대기 중", "queued"),
    Step("upload", "업로드 중", "uploading"),
    Step("uploaded", "업로드 완료", "uploaded"),
    Step("pose", "자세 인식", "finding the pose"),
    Step("pose_detection", "자세 인식", "finding the pose"),
    Step("pose_estimation", "자세 인식", "finding the pose"),
    Step("club_tracking", "클럽 추적", "tracking the club"),
    Step("ball_tracking", "볼 추적", "tracking the ball"),
    Step("address", "어드레스", "address"),
    Step("takeaway", "테이크어웨이", "takeaway"),
    Step("backswing", "백스윙", "backswing"),
    Step("top", "백스윙 톱", "top of the backswing"),
    Step("transition", "전환 동작", "transition"),
    Step("downswing", "다운스윙", "downswing"),
    Step("impact", "임팩트", "impact"),
    Step("follow_through", "팔로스루", "follow-through"),
    Step("finish", "피니시", "finish"),
    Step("impact_analysis", "임팩트 분석", "analysing the impact"),
    Step("analysis", "스윙 분석", "analysing the swing"),
    Step("metrics", "지표 측정", "measuring"),
    Step("scoring", "점수 계산", "scoring"),
    Step("feedback", "피드백 작성", "writing feedback"),
    Step("done", "분석 완료", "done"),
)
UNKNOWN_STEP = {"ko": "분석 중", "en": "analysing"}
UNKNOWN_METRIC = {"ko": "기타 지표", "en": "Other metric"}

# Golf words an unknown metric key is made of, in Korean: a key all of whose words are
# here reads in Korean ("lead_wrist_angle" → "리드 손목 각도"); any other gets the neutral
# label. Korean golf compounds keep the English order, so word by word is right.
TERMS: dict[str, str] = {
    "acceleration": "가속도", "accuracy": "정확도", "address": "어드레스", "angle": "각도",
    "apex": "최고점", "arm": "팔", "attack": "어택", "average": "평균", "avg": "평균",
    "back": "백", "backswing": "백스윙", "balance": "밸런스", "ball": "볼", "body": "몸",
    "carry": "캐리", "center": "중심", "chest": "가슴", "club": "클럽", "consistency": "일관성",
    "contact": "콘택트", "deviation": "편차", "distance": "거리", "downswing": "다운스윙",
    "driver": "드라이버", "dynamic": "다이내믹", "efficiency": "효율", "elbow": "팔꿈치",
    "extension": "익스텐션", "face": "페이스", "factor": "팩터", "finish": "피니시",
    "foot": "발", "force": "힘", "gap": "간격", "grip": "그립", "ground": "지면",
    "hand": "손", "hands": "손", "head": "헤드", "height": "높이", "hinge": "코킹",
    "hip": "골반", "hips": "골반", "hybrid": "하이브리드", "impact": "임팩트", "index": "지수",
    "iron": "아이언", "knee": "무릎", "lag": "래그", "launch": "발사", "lead": "리드",
    "left": "왼쪽", "length": "길이", "lie": "라이", "loft": "로프트", "lower": "하체",
    "max": "최대", "min": "최소", "movement": "움직임", "offset": "오프셋", "path": "패스",
    "peak": "최고", "pelvis": "골반", "plane": "플레인", "position": "위치",
    "posture": "자세", "power": "파워", "pressure": "압력", "putter": "퍼터",
    "rate": "비율", "ratio": "비율", "release": "릴리스", "right": "오른쪽",
    "rotation": "회전", "score": "점수", "sequence": "시퀀스", "shaft": "샤프트",
    "shift": "이동", "shoulder": "어깨", "shoulders": "어깨", "side": "사이드",
    "smash": "스매시", "spin": "스핀", "spine": "척추", "speed": "스피드", "stability": "안정성",
    "stance": "스탠스", "sway": "스웨이", "swing": "스윙", "tempo": "템포", "tilt": "기울기",
    "time": "시간", "timing": "타이밍", "top": "톱", "torso": "상체", "total": "총",
    "trail": "트레일", "transition": "전환", "turn": "회전", "upper": "상체",
    "wedge": "웨지", "weight": "체중", "width": "폭", "wood": "우드", "wrist": "손목",
    "x": "X",
}  # fmt: skip

# A unit suffix an unknown key may end with ("hand_speed_mph"), and the unit it means.
UNIT_SUFFIXES: dict[str, str] = {
    "mph": "mph", "mps": "m/s", "kmh": "km/h", "kph": "km/h", "deg": "°", "degrees": "°",
    "pct": "%", "percent": "%", "rpm": "rpm", "cm": "cm", "mm": "mm", "m": "m",
    "meters": "m", "yd": "yd", "yds": "yd", "yards": "yd", "s": "s", "sec": "s", "ms": "ms",
}  # fmt: skip

# Units a reader may want a value in, per dimension: the size of each in the first one.
UNITS: dict[str, tuple[str, float]] = {
    "m/s": ("speed", 1.0),
    "mph": ("speed", 0.44704),
    "km/h": ("speed", 1 / 3.6),
    "m": ("distance", 1.0),
    "yd": ("distance", 0.9144),
}
# The unit each language reads a dimension in. A Korean golfer speaks of head speed in
# m/s and carry in metres; a reader may ask for mph instead (`speed_unit`).
READS_IN: dict[str, dict[str, str]] = {
    "ko": {"speed": "m/s", "distance": "m"},
    "en": {"speed": "mph", "distance": "yd"},
}
SPEED_UNITS = tuple(unit for unit, (dimension, _) in UNITS.items() if dimension == "speed")

_UNITS_WITHOUT_SPACE = ("", "°", "%", ":1")
_BY_KEY = {m.key: m for m in METRICS}
_ALIASES = {alias: m.key for m in METRICS for alias in m.aliases}
_LEVELS = {level.key: level for level in LEVELS}
_STEPS = {step.key: step for step in STEPS}


def metric_for(key: str) -> Metric | None:
    """The catalog entry for a key the Node API sent (its own key or an alias)."""
    return _BY_KEY.get(key) or _BY_KEY.get(_ALIASES.get(key, ""))


def key_words(key: str) -> tuple[list[str], str]:
    """An unknown key's words and the unit its last word names, if any:
    "hand_speed_mph" → (["hand", "speed"], "mph"); "handSpeed" → (["hand", "speed"], "")."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    words = [w for w in re.split(r"[\s_.\-]+", spaced.lower()) if w]
    if len(words) > 1 and words[-1] in UNIT_SUFFIXES:
        return words[:-1], UNIT_SUFFIXES[words[-1]]
    return words, ""


def metric_label(key: str, language: str = "ko") -> str:
    """A human label: the catalog's; for an unknown key, in Korean from the golf words
    it is made of ("hand_speed_mph" → "손 스피드") or else the neutral "기타 지표", in
    English made from the key ("Hand speed"); a unit suffix is never part of it."""
    metric = metric_for(key)
    if metric is not None:
        return metric.label_ko if language == "ko" else metric.label_en
    words, _unit = key_words(key)
    if language != "ko":
        return " ".join(words).capitalize() or str(key)
    korean = [w if w.isdigit() else TERMS.get(w) for w in words]
    if korean and all(korean):
        return " ".join(korean)  # type: ignore[arg-type]
    return UNKNOWN_METRIC["ko"]


def step_label(step: str, language: str = "ko") -> str:
    """How an analysis step the Node API reports reads; an unknown one as a neutral
    "분석 중" ("analysing"), never the raw key."""
    known = _STEPS.get(step)
    if known is None:
        return UNKNOWN_STEP["ko" if language == "ko" else "en"]
    return known.label_ko if language == "ko" else known.label_en


def unit_for(unit: str, language: str, speed_unit: str = "") -> str:
    """The unit a reader of `language` sees a value measured in `unit` in: speeds in
    m/s (ko) or mph (en) unless `speed_unit` asks for another, distances in m or yd;
    any other unit as it is."""
    if unit not in UNITS:
        return unit
    dimension = UNITS[unit][0]
    if dimension == "speed" and speed_unit in SPEED_UNITS:
        return speed_unit
    return READS_IN["ko" if language == "ko" else "en"][dimension]


def convert(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit == to_unit:
        return value
    return value * UNITS[from_unit][1] / UNITS[to_unit][1]


def _with_unit(number: str, unit: str) -> str:
    return number + unit if unit in _UNITS_WITHOUT_SPACE else f"{number} {unit}"


def _auto(value: float) -> str:
    """Up to 2 decimals for small numbers, fewer for large ones, no trailing zeros."""
    digits = 0 if abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def format_value(key: str, value: Any, language: str | None = None, speed_unit: str = "") -> str:
    """A metric value as a coach reads it: the catalog's decimals and unit; others as
    they came (nested values are the caller's to render as sub-rows). With `language`,
    in the units that language reads (`unit_for`) and, for a signed metric, its size
    with the direction in words ("5.2° 열림", "5.2° closed")."""
    metric = metric_for(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    unit = metric.unit if metric is not None else key_words(key)[1]
    shown_unit = unit_for(unit, language, speed_unit) if language else unit
    number = convert(value, unit, shown_unit)
    direction = ""
    if language and metric is not None and metric.direction is not None:
        direction = metric.direction.word(round(number, metric.decimals), language)
        number = abs(number)
    if metric is not None:
        text = f"{number:.{metric.decimals}f}"
    else:
        text = f"{number:g}" if shown_unit == unit else _auto(number)
    text = _with_unit(text, shown_unit) if shown_unit else text
    return f"{text} {direction}" if direction else text


def format_range(metric: Metric, language: str | None = None, speed_unit: str = "") -> str:
    """The typical range as a coach reads it: "40~50°", "0.70~1.00 s"; with `language`
    in that language's units ("38.0~51.4 m/s")."""
    if metric.typical is None:
        return ""
    shown_unit = unit_for(metric.unit, language, speed_unit) if language else metric.unit
    low, high = (
        f"{convert(bound, metric.unit, shown_unit):.{metric.decimals}f}" for bound in metric.typical
    )
    unit = shown_unit if shown_unit in _UNITS_WITHOUT_SPACE else f" {shown_unit}"
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


def catalog() -> dict[str, Any]:
    """The catalog for pages, everything a page needs to read what the Node API sends:

    - `metrics`, in display order: one entry per key the Node API may send (`{key,
      label: {ko, en}, unit, precision, range: [low, high] | null, better, direction:
      {positive, negative: {ko, en}} | null}`), an alias's entry right after its
      metric's, with `alias_of`;
    - `steps`: `{key, label: {ko, en}}` per analysis step, `unknown_step`: the neutral name;
    - `terms` (golf word → Korean), `unit_suffixes` and `unknown_metric`: how an
      unknown key is labelled;
    - `units` (`{unit: [dimension, size]}`), `reads_in` (language → dimension → unit)
      and `speed_units`: which unit a value is shown in, and the speeds a reader may pick.
    """
    return {
        "metrics": [
            entry
            for m in METRICS
            for entry in (m.as_json(), *(m.as_json(alias) for alias in m.aliases))
        ],
        "steps": [{"key": s.key, "label": {"ko": s.label_ko, "en": s.label_en}} for s in STEPS],
        "unknown_step": UNKNOWN_STEP,
        "terms": TERMS,
        "unit_suffixes": UNIT_SUFFIXES,
        "unknown_metric": UNKNOWN_METRIC,
        "units": {unit: list(size) for unit, size in UNITS.items()},
        "reads_in": READS_IN,
        "speed_units": list(SPEED_UNITS),
    }


def level_catalog() -> list[dict[str, Any]]:
    """The level badges for pages, lowest first: `{key, label: {ko, en}, about: {ko, en}}`."""
    return [{"key": level.key, **level.as_json()} for level in LEVELS]
