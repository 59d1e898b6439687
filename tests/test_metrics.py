"""The metric catalog: one place that says how each swing metric is named and read."""

import json

import pytest

from coaching import metrics
from coaching.management.commands.simulate_analysis import FEEDBACK

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
    assert metrics.metric_label("hand_speed") == "Hand speed"
    assert metrics.format_value("hand_speed", 0.125) == "0.125"
    assert metrics.format_value("hand_speed", "fast") == "fast"


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
    entries = json.loads(json.dumps(metrics.catalog()))
    by_key = {e["key"]: e for e in entries}
    assert entries[0] == {
        "key": "face_angle",
        "label": {"ko": "페이스 각도", "en": "Face angle"},
        "unit": "°",
        "precision": 1,
        "range": [-2, 2],
        "better": "closer_to_range",
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


def test_pages_get_the_levels_explained_in_both_languages():
    levels = json.loads(json.dumps(metrics.level_catalog()))
    assert [lv["key"] for lv in levels] == ["beginner", "intermediate", "advanced", "pro"]
    assert levels[0]["label"] == {"ko": "입문", "en": "Beginner"}
    assert levels[0]["about"]["en"] and levels[0]["about"]["ko"]
