"""Contract tests every registered detection scorer inherits, as the strategies' do: one name
everywhere (the module is the registry key), metadata that holds, and the invariants on a small
input — parametrized over DETECTION_SCORERS, so a new scorer module is tested without a line here."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from al_bench.detection import DETECTION_SCORERS, check_detections
from al_bench.detection.scorers import NEEDS
from al_bench.task_scores import read_task_scores


def dets():
    """Three images: two boxes, none, three boxes (3 classes)."""
    return [{"id": "a", "boxes": [[0, 0, 2, 2], [1, 1, 3, 4]], "objectness": [0.9, 0.4],
             "probs": [[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]]},
            {"id": "b", "boxes": [], "objectness": [], "probs": []},
            {"id": "c", "boxes": [[0, 0, 1, 1]] * 3, "objectness": [0.6, 0.99, 0.5],
             "probs": [[0.5, 0.5, 0.0], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]]}]


def test_the_registry_holds_the_documented_scorers():
    assert set(DETECTION_SCORERS) >= {"box_entropy", "box_least_confidence", "box_margin", "object_frequency",
                                      "objectness_least_confidence"}


@pytest.mark.parametrize("name", sorted(DETECTION_SCORERS))
def test_detection_scorer_contract(name):
    e = DETECTION_SCORERS.entry(name)
    assert e.module == f"al_bench.detection.scorers.{name}", "one name: the module is the key"
    assert e.needs and e.needs <= NEEDS and isinstance(e.score, str) and e.score
    for k, (lo, hi) in e.param_ranges.items():
        assert lo <= e.options[k] <= hi, k
    for k, allowed in e.param_choices.items():
        assert e.options[k] in allowed, k
    given = dets()
    before = copy.deepcopy(given)
    s = e.obj(given)
    assert s.shape == (3,) and s.dtype == np.float64 and np.isfinite(s).all() and (s >= 0).all()
    assert s[1] == 0.0, "an image without boxes scores 0"
    assert given == before, "the input is not changed"
    np.testing.assert_array_equal(s, e.obj(check_detections(dets())))  # checked arrays score the same


@pytest.mark.parametrize("name", sorted(DETECTION_SCORERS))
def test_detection_scorer_options_outside_their_declared_values_are_value_errors(name):
    e = DETECTION_SCORERS.entry(name)
    for k, (lo, hi) in e.param_ranges.items():
        for bad in (lo - 0.5, hi + 0.5, float("nan")):
            with pytest.raises(ValueError, match=k):
                e.obj(dets(), **{k: bad})
    for k in e.param_choices:
        with pytest.raises(ValueError, match=f"unknown {k}"):
            e.obj(dets(), **{k: "bogus"})


def test_a_scorer_reads_a_predictions_file_through_the_task_front_door(tmp_path):
    import json

    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in dets()))
    for name in DETECTION_SCORERS:
        ids, s = read_task_scores(f, "detection", name, {})
        assert ids == ["a", "b", "c"] and s.shape == (3, 1)
        np.testing.assert_array_equal(s[:, 0], DETECTION_SCORERS[name](dets()))
