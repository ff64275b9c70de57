"""dataset.imbalance: long-tailed pools with the requested counts, test and calibration untouched."""

import math

import numpy as np
import pytest

from al_bench.cli.run import plain_config
from al_bench.config import canonical_config, parse_settings
from al_bench.data import make_split
from al_bench.data.dataset import ImageDataset
from al_bench.data.long_tail import PRESETS, long_tail_pool, parse_imbalance, restrict_classes
from al_bench.errors import UserError
from al_bench.run import run_split
from al_bench.runfiles import config_id
from support import compose_config


def _labels(per_class=200, c=10):
    return np.repeat(np.arange(c), per_class)


def test_exponential_ratio_keeps_the_cifar_lt_counts_and_leaves_test_and_calibration_alone():
    y = _labels()
    split = make_split(y, seed=4, test_fraction=0.2, calibration_fraction=0.1)
    names = tuple(str(i) for i in range(10))
    lt = long_tail_pool(split, y, parse_imbalance({"ratio": 10}), names, seed=4)
    counts = np.bincount(y[lt.pool], minlength=10)
    n0 = int((y[split.pool] == 0).sum())
    assert counts.tolist() == [math.floor(n0 * 10 ** (-i / 9)) for i in range(10)]
    assert counts[0] / counts[-1] == pytest.approx(10, rel=0.05)
    assert np.array_equal(lt.test, split.test) and np.array_equal(lt.calibration, split.calibration)
    assert set(lt.pool) <= set(split.pool)
    again = long_tail_pool(split, y, parse_imbalance({"ratio": 10}), names, seed=4)
    other = long_tail_pool(split, y, parse_imbalance({"ratio": 10}), names, seed=5)
    assert np.array_equal(again.pool, lt.pool) and not np.array_equal(other.pool, lt.pool)  # seeded


def test_proportions_give_the_largest_pool_with_those_shares():
    y = _labels(100, 3)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.0)
    lt = long_tail_pool(split, y, parse_imbalance({"proportions": [6, 3, 1]}), ("a", "b", "c"), seed=0)
    # 80 pool items per class; the head limits: N = 80 / 0.6 = 133.3 → 80, 40, 13
    assert np.bincount(y[lt.pool]).tolist() == [80, 40, 13]


def test_the_bdd_preset_makes_a_seven_class_problem_with_its_shape():
    rng = np.random.default_rng(0)
    y = _labels(700, 10)
    ds = ImageDataset("t", rng.integers(0, 255, (len(y), 4, 4, 1), dtype=np.uint8), y,
                      np.array([f"i{k}" for k in range(len(y))]), tuple(f"c{i}" for i in range(10)))
    imb = parse_imbalance({"proportions": "bdd100k_weather"})
    small = restrict_classes(ds, imb.n_classes(ds.n_classes))
    assert small.class_names == tuple(f"c{i}" for i in range(7)) and set(small.labels) == set(range(7))
    split = make_split(small.labels, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    lt = long_tail_pool(split, small.labels, imb, small.class_names, seed=0)
    counts = np.bincount(small.labels[lt.pool], minlength=7)
    shares = np.array(PRESETS["bdd100k_weather"]) / sum(PRESETS["bdd100k_weather"])
    per_class = np.bincount(small.labels[split.pool], minlength=7)  # the same count for every class here
    n = min(per_class / shares)  # the largest pool with these shares
    assert counts.tolist() == np.floor(n * shares + 1e-9).astype(int).tolist() and counts[-1] >= 1
    assert counts[0] / counts.sum() == pytest.approx(shares[0], abs=0.005)
    assert np.array_equal(lt.test, split.test)  # only classes 0-6 anywhere, test as the split gives it


def test_a_class_the_pool_cannot_fill_is_one_line_naming_the_numbers():
    y = _labels(20, 10)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    with pytest.raises(UserError, match=r"^dataset.imbalance: class '6' would keep no pool item \(ratio 100"):
        long_tail_pool(split, y, parse_imbalance({"ratio": 100}), tuple(str(i) for i in range(10)), seed=0)
    y2 = np.concatenate([np.zeros(100, np.int64), np.ones(5, np.int64)])
    split2 = make_split(y2, seed=0, test_fraction=0.2, calibration_fraction=0.0)
    with pytest.raises(UserError, match=r"class 'b' has 4 pool item\(s\), 40 needed"):
        long_tail_pool(split2, y2, parse_imbalance({"ratio": 2}), ("a", "b"), seed=0)  # 80 → 40 wanted


@pytest.mark.parametrize("node, words", [
    ({"ratio": 0.5}, "dataset.imbalance.ratio: got 0.5"),
    ({"ratio": 10, "proportions": "bdd100k_weather"}, "give ratio or proportions, not both"),
    ({"proportions": "nope"}, "unknown preset 'nope'"),
    ({"proportions": [1, -1]}, "dataset.imbalance.proportions: got [1, -1]"),
    ({"profile": "step", "ratio": 10}, "dataset.imbalance.profile: got 'step'"),
    ({"rate": 3}, "unknown key(s) ['rate']"),
])
def test_bad_settings_are_one_line(node, words):
    with pytest.raises(UserError) as err:
        parse_imbalance(node)
    assert words in str(err.value)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_config_key_composes_is_part_of_the_identity_only_when_on():
    plain = plain_config(compose_config("dataset=digits"))
    on = plain_config(compose_config("dataset=digits", "dataset.imbalance.ratio=10"))
    as_float = plain_config(compose_config("dataset=digits", "dataset.imbalance.ratio=10.0"))
    ids = [config_id(canonical_config(c)) for c in (plain, on, as_float)]
    assert ids[0] != ids[1] == ids[2]
    old = {k: v for k, v in plain.items()}
    old["dataset"] = {k: v for k, v in plain["dataset"].items() if k != "imbalance"}  # a config from before the key
    assert config_id(canonical_config(old)) == ids[0]
    s = parse_settings(on)
    ds, split = run_split(s, _digits_like())
    assert np.bincount(ds.labels[split.pool])[0] / np.bincount(ds.labels[split.pool])[-1] == pytest.approx(10, rel=0.1)


def _digits_like():
    y = _labels(150, 10)
    return ImageDataset("digits", np.zeros((len(y), 2, 2, 1), np.uint8), y, np.array([str(i) for i in range(len(y))]),
                        tuple(str(i) for i in range(10)))
