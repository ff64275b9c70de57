"""tables/aubc.csv on a hand-made results table: areas, their spread and the paired gain with its
interval and p-value, computed here by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report.reports.aubc import COLUMNS, aubc

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
POINTS = [(0.1, 100), (0.2, 200), (0.4, 400)]
RANDOM = {0: [0.50, 0.60, 0.80], 1: [0.52, 0.62, 0.80], 2: [0.54, 0.61, 0.83]}
T975 = {1: math.tan(math.pi * 0.475), 2: 0.95 / math.sqrt(2 * 0.975 * 0.025)}  # Student t, df 1 and 2


def by_hand(acc):
    """Labels 100, 200, 400 → x = 0, 1/3, 1; trapezoids (1/3)(a0+a1)/2 + (2/3)(a1+a2)/2."""
    a0, a1, a2 = acc
    return a0 / 6 + a1 / 2 + a2 / 3


def rows(strategy, seed, acc, group=G, points=POINTS):
    return [{**group, "strategy": strategy, "seed": seed, "budget": b, "n_labeled": n, "accuracy": a}
            for (b, n), a in zip(points, acc) if a is not None]


@pytest.fixture
def table():
    r = []
    for seed, acc in RANDOM.items():
        r += rows("random", seed, acc)
        r += rows("entropy", seed, [a + [0.02, 0.04, 0.06][seed] for a in acc])  # +0.02/0.04/0.06 everywhere
        r += rows("least_confidence", seed, acc)  # tied with random at every seed
    # margin: seed 0 lacks the 0.2 point; seeds 1, 2 are +0.01, +0.03 everywhere
    r += rows("margin", 0, [RANDOM[0][0] + 0.05, None, RANDOM[0][2] + 0.05])
    r += rows("margin", 1, [a + 0.01 for a in RANDOM[1]]) + rows("margin", 2, [a + 0.03 for a in RANDOM[2]])
    r += rows("bald", 0, [a + 0.07 for a in RANDOM[0]])  # one seed
    return pd.DataFrame(r)


def _summary(t, strategy):
    return t[(t.strategy == strategy) & (t.level == "strategy")].iloc[0]


def _seed(t, strategy, seed):
    return t[(t.strategy == strategy) & (t.level == "seed") & (t.seed == seed)].iloc[0]


def test_per_seed_areas_and_their_mean_and_std(table):
    t = aubc(table)
    areas = [by_hand(RANDOM[s]) for s in range(3)]
    assert areas == pytest.approx([0.65, 0.52 / 6 + 0.31 + 0.80 / 3, 0.09 + 0.305 + 0.83 / 3])
    for s in range(3):
        row = _seed(t, "random", s)
        assert row["aubc"] == pytest.approx(areas[s]) and row["n_points"] == 3 and row["gain"] == pytest.approx(0)
        assert _seed(t, "entropy", s)["random_aubc"] == pytest.approx(areas[s])
    rnd = _summary(t, "random")
    mean = sum(areas) / 3
    assert rnd["aubc_mean"] == pytest.approx(mean)
    assert rnd["aubc_std"] == pytest.approx(math.sqrt(sum((a - mean) ** 2 for a in areas) / 2))
    assert rnd["n_seeds"] == 3 and pd.isna(rnd["seed"])


def test_paired_gain_with_interval_and_p_value_by_hand(table):
    t = aubc(table)
    # an offset at every point moves the area by the offset (the weights sum to 1)
    assert [_seed(t, "entropy", s)["gain"] for s in range(3)] == pytest.approx([0.02, 0.04, 0.06])
    e = _summary(t, "entropy")
    se = 0.02 / math.sqrt(3)  # t = 0.04 / se = 2√3 on 2 df
    assert e["gain_mean"] == pytest.approx(0.04) and e["gain_std"] == pytest.approx(0.02)
    assert e["gain_ci_low"] == pytest.approx(0.04 - T975[2] * se)
    assert e["gain_ci_high"] == pytest.approx(0.04 + T975[2] * se)
    assert e["p_value"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14)) and e["n_pairs"] == 3


def test_a_run_missing_a_budget_point_has_no_area(table):
    t = aubc(table)
    m0 = _seed(t, "margin", 0)
    assert m0["n_points"] == 2 and np.isnan(m0["aubc"]) and np.isnan(m0["gain"])
    m = _summary(t, "margin")
    # seeds 1, 2: gains 0.01, 0.03 → mean 0.02, se 0.01, t = 2 on 1 df
    assert (m["n_seeds"], m["n_pairs"]) == (2, 2)
    assert m["gain_mean"] == pytest.approx(0.02)
    assert m["p_value"] == pytest.approx(1 - 2 / math.pi * math.atan(2.0))
    assert m["gain_ci_low"] == pytest.approx(0.02 - T975[1] * 0.01)
    assert m["aubc_mean"] == pytest.approx((by_hand(RANDOM[1]) + 0.01 + by_hand(RANDOM[2]) + 0.03) / 2)


def test_one_seed_and_a_tie(table):
    t = aubc(table)
    b = _summary(t, "bald")
    assert b["n_pairs"] == 1 and b["gain_mean"] == pytest.approx(0.07)
    assert np.isnan(b["aubc_std"]) and np.isnan(b["gain_ci_low"]) and np.isnan(b["p_value"])
    tie = _summary(t, "least_confidence")
    assert (tie["gain_mean"], tie["gain_ci_low"], tie["gain_ci_high"], tie["p_value"]) == (0, 0, 0, 1)


def test_rows_columns_and_order(table):
    t = aubc(table)
    assert list(t.columns) == COLUMNS
    assert list(zip(t["strategy"], t["level"]))[:6] == [("bald", "seed"), ("bald", "strategy"),
                                                       ("entropy", "seed"), ("entropy", "seed"),
                                                       ("entropy", "seed"), ("entropy", "strategy")]
    assert len(t) == 2 + 4 * 4
    seeds = t[t.level == "seed"]
    assert seeds[["aubc_mean", "gain_mean", "p_value", "n_pairs"]].isna().all().all()  # one meaning per cell


def test_a_group_without_random_has_areas_but_no_gains(table):
    other = {**G, "model": "other"}
    t = aubc(pd.concat([table, pd.DataFrame(rows("entropy", 0, [0.6, 0.7, 0.8], group=other)
                                            + rows("entropy", 1, [0.6, 0.7, 0.9], group=other))]))
    o = t[t.model == "other"]
    assert o[o.level == "seed"]["aubc"].tolist() == pytest.approx([by_hand([0.6, 0.7, 0.8]),
                                                                   by_hand([0.6, 0.7, 0.9])])
    s = o[o.level == "strategy"].iloc[0]
    assert s["n_pairs"] == 0 and np.isnan(s["gain_mean"]) and np.isnan(s["p_value"]) and s["n_seeds"] == 2
    assert o[o.level == "seed"]["random_aubc"].isna().all()
    # group m is unchanged by the other group
    assert _summary(t[t.model == "m"], "entropy")["gain_mean"] == pytest.approx(0.04)


def test_a_one_point_schedule_has_no_area():
    one = [(0.5, 100)]
    t = aubc(pd.DataFrame(rows("random", 0, [0.5], points=one) + rows("entropy", 0, [0.6], points=one)))
    assert t["aubc"].isna().all() and t["aubc_mean"].isna().all()
