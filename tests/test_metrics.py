"""The metric catalog: one place that says how each swing metric is named and read."""

import json
import re

import pytest

from coaching import metrics
from coaching.management.commands.seed_demo import DEMO_SWING
from coaching.management.commands.simulate_analysis import FEEDBACK, TICKS

COMMON = [
    "face_angle", "club_path", "attack_angle", "hip_rotation", "shoulder_rotation",
    "x_factor", "tempo_ratio", "backswing_time", "downswing_time", "swing_speed",
    "ball_speed", "launch_angle", "spin_rate", "carry_distance", "spine_angle",
    "head_movement", "weight_shift",
]  # fmt: skip


@pytest.mark.parametrize("key", sorted({*COMMON, *FEEDBACK["metrics"]}))
def test_every_metric_the_app_sends_is_in_the_catalog_in_both_languages(key):
    metric = metrics.metric_for(key)
    assert metric is not None
    assert metric.label_ko and metric.label_en and metric.label_ko != metric.label_en
    assert metric.better in ("higher", "lower", "closer_to_range")
    assert metric.decimals >= 0
    if metric.typical:
        assert metric.typical[0] < metric.typical[1]


def test_keys_with_a_unit_suffix_are_the_same_metric():
    assert metrics.metric_for("hip_rotation_deg").key == "hip_rotation"
    assert metrics.metric_for("backswing_time_s").key == "backswing_time"


def test_values_keep_the_precision_a_coach_reads():
    assert metrics.format_value("tempo_ratio", 0.92) == "0.92:1"
    assert metrics.format_value("backswing_time", 0.31) == "0.31 s"
    assert metrics.format_value("face_angle", 5.24) == "5.2°"
    assert metrics.format_value("spin_rate", 2650.4) == "2650 rpm"


def test_unknown_metrics_are_shown_sensibly():
    assert metrics.metric_label("hand_speed", "en") == "Hand speed"
    assert metrics.format_value("hand_speed", 0.125) == "0.125"
    assert metrics.format_value("hand_speed", "fast") == "fast"


def test_unknown_keys_read_in_korean_golf_words_or_a_neutral_label():
    assert metrics.metric_label("hand_speed") == "손 스피드"
    assert metrics.metric_label("leadWristAngle") == "리드 손목 각도"
    assert metrics.metric_label("wrist_hinge") == "손목 코킹"
    assert metrics.metric_label("driver") == "드라이버"  # a nested sub-key
    # A word outside the glossary: neutral, never the raw (English) key.
    assert metrics.metric_label("sequence_blorp") == "기타 지표"
    assert metrics.metric_label("") == "기타 지표"


def test_an_unknown_keys_unit_suffix_is_its_unit_not_part_of_its_label():
    assert metrics.key_words("hand_speed_mph") == (["hand", "speed"], "mph")
    assert metrics.key_words("mph") == (["mph"], "")  # a word alone is not a unit
    assert metrics.metric_label("hand_speed_mph", "en") == "Hand speed"
    assert metrics.metric_label("hand_speed_mph", "ko") == "손 스피드"
    assert metrics.format_value("hand_speed_mph", 19.9) == "19.9 mph"
    assert metrics.format_value("hand_speed_mph", 19.9, "ko") == "8.9 m/s"
    assert metrics.format_value("wrist_angle_deg", 12, "ko") == "12°"


def test_head_and_ball_speed_read_in_m_per_s_in_korean_and_mph_on_request():
    assert metrics.metric_label("swing_speed") == "헤드 스피드"
    assert metrics.metric_for("head_speed").key == "swing_speed"
    assert metrics.format_value("swing_speed", 92.3) == "92.3 mph"  # as it came
    assert metrics.format_value("swing_speed", 92.3, "ko") == "41.3 m/s"
    assert metrics.format_value("ball_speed", 131.0, "ko") == "58.6 m/s"
    assert metrics.format_value("swing_speed", 92.3, "ko", speed_unit="mph") == "92.3 mph"
    assert metrics.format_value("swing_speed", 92.3, "en") == "92.3 mph"
    assert metrics.format_value("swing_speed", 92.3, "en", speed_unit="m/s") == "41.3 m/s"
    assert metrics.format_value("swing_speed", 92.3, "ko", speed_unit="furlongs") == "41.3 m/s"
    assert metrics.format_range(metrics.metric_for("swing_speed"), "ko") == "38.0~51.4 m/s"


def test_distances_read_in_metres_in_korean_and_yards_in_english():
    assert metrics.format_value("carry_distance", 182, "ko") == "182 m"
    assert metrics.format_value("carry_distance", 182, "en") == "199 yd"
    assert metrics.format_range(metrics.metric_for("carry"), "en") == "197~273 yd"
    # Small lengths are not distances: head movement stays in cm.
    assert metrics.format_value("head_movement", 3.2, "en") == "3.2 cm"


def test_signed_metrics_say_which_way_in_words():
    assert metrics.format_value("face_angle", 5.2, "ko") == "5.2° 열림"
    assert metrics.format_value("face_angle", -5.24, "en") == "5.2° closed"
    assert metrics.format_value("club_path", -1.8, "ko") == "1.8° 아웃-인"
    assert metrics.format_value("club_path_deg", 2.5, "en") == "2.5° in-to-out"
    assert metrics.format_value("face_to_path", 7.3, "ko") == "7.3° 열림"
    assert metrics.format_value("attack_angle", -6, "ko") == "6.0° 하향"
    assert metrics.format_value("face_angle", 0, "ko") == "0.0°"
    assert metrics.format_value("face_angle", -0.04, "ko") == "0.0°"  # reads as zero: no side
    assert metrics.format_value("face_angle", 5.2) == "5.2°"  # no language: as it came
    signed = [m.key for m in metrics.METRICS if m.direction]
    assert signed == ["face_angle", "club_path", "face_to_path", "attack_angle"]


def test_every_analysis_step_the_node_api_reports_has_a_korean_name():
    sent = {step for _, step in TICKS} | set(DEMO_SWING["key_frames"]) | {"impact", "analysis"}
    for step in sorted(sent):
        assert step in {s.key for s in metrics.STEPS}, step
        assert metrics.step_label(step, "ko") != step
        assert re.search("[가-힣]", metrics.step_label(step, "ko")), step
    assert metrics.step_label("club_tracking", "ko") == "클럽 추적"
    assert metrics.step_label("club_tracking", "en") == "tracking the club"
    # An unknown step reads neutrally, never as its key.
    assert metrics.step_label("ball_flight_v2", "ko") == "분석 중"
    assert metrics.step_label("ball_flight_v2", "en") == "analysing"


def test_every_korean_label_is_korean():
    for metric in metrics.METRICS:
        assert re.search("[가-힣]", metric.label_ko), metric.key
    for word, korean in metrics.TERMS.items():
        assert word == word.lower() and not re.search("[a-z]", korean), word


def test_order_is_the_catalogs_then_unknown_keys_alphabetically():
    card = {"zeta": 1, "tempo_ratio": 3.0, "alpha": 2, "face_angle": 1.0, "hip_rotation_deg": 45}
    assert [k for k, _ in metrics.ordered(card)] == [
        "face_angle",
        "hip_rotation_deg",
        "tempo_ratio",
        "alpha",
        "zeta",
    ]


def test_typical_ranges_read_with_their_unit():
    assert metrics.format_range(metrics.metric_for("hip_rotation")) == "40~50°"
    assert metrics.format_range(metrics.metric_for("backswing_time")) == "0.70~1.00 s"


def test_levels_are_explained_in_both_languages():
    for key in ("beginner", "intermediate", "advanced"):
        level = metrics.level_for(key)
        assert level.label_ko and level.label_en and level.about_ko and level.about_en
    assert metrics.level_for("Intermediate").key == "intermediate"
    assert metrics.level_for("") is None and metrics.level_for("unknown") is None


def test_pages_get_the_catalog_as_json_in_display_order():
    page = json.loads(json.dumps(metrics.catalog()))
    entries = page["metrics"]
    by_key = {e["key"]: e for e in entries}
    assert entries[0] == {
        "key": "face_angle",
        "label": {"ko": "페이스 각도", "en": "Face angle"},
        "unit": "°",
        "precision": 1,
        "range": [-2, 2],
        "better": "closer_to_range",
        "direction": {
            "positive": {"ko": "열림", "en": "open"},
            "negative": {"ko": "닫힘", "en": "closed"},
        },
    }
    # The Node API's own keys (with a unit) read the same, right after their metric.
    assert by_key["hip_rotation_deg"] == {
        **by_key["hip_rotation"],
        "key": "hip_rotation_deg",
        "alias_of": "hip_rotation",
    }
    keys = [e["key"] for e in entries]
    assert keys.index("hip_rotation") + 1 == keys.index("hip_rotation_deg")
    assert len(keys) == len(set(keys))


def test_pages_get_steps_units_and_the_glossary_with_the_catalog():
    page = json.loads(json.dumps(metrics.catalog()))
    steps = {s["key"]: s["label"] for s in page["steps"]}
    assert steps["pose_detection"] == {"ko": "자세 인식", "en": "finding the pose"}
    assert page["unknown_step"] == {"ko": "분석 중", "en": "analysing"}
    assert page["unknown_metric"]["ko"] == "기타 지표"
    assert page["terms"]["wrist"] == "손목" and page["unit_suffixes"]["mph"] == "mph"
    assert page["units"]["mph"] == ["speed", 0.44704] and page["units"]["yd"][0] == "distance"
    assert page["reads_in"] == {
        "ko": {"speed": "m/s", "distance": "m"},
        "en": {"speed": "mph", "distance": "yd"},
    }
    assert page["speed_units"] == ["m/s", "mph", "km/h"]


def test_pages_get_the_levels_explained_in_both_languages():
    levels = json.loads(json.dumps(metrics.level_catalog()))
    assert [lv["key"] for lv in levels] == ["beginner", "intermediate", "advanced", "pro"]
    assert levels[0]["label"] == {"ko": "입문", "en": "Beginner"}
    assert levels[0]["about"]["en"] and levels[0]["about"]["ko"]
