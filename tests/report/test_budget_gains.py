import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report import budget_gains
from al_bench.report.reports.budget_gains import COLUMNS

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}


def test_budget_gains_are_seed_paired_with_ddof1(paired_table):
    g = budget_gains(paired_table).set_index(["strategy", "budget"])
    row = g.loc[("entropy", 0.5)]
    assert row["n_labeled"] == 200 and row["n_seeds"] == 3
    assert row["gain_mean"] == pytest.approx(0.04)
    assert row["gain_std"] == pytest.approx(np.std([0.02, 0.04, 0.06], ddof=1))
    assert row["accuracy_mean"] == pytest.approx(0.65)
    assert row["accuracy_std"] == pytest.approx(0.03)
    assert row["random_mean"] == pytest.approx(0.61)
    low = g.loc[("entropy", 0.25)]
    assert low["gain_mean"] == pytest.approx(0.0)  # gains 0, +0.01, −0.01
    assert low["gain_std"] == pytest.approx(0.01)
    assert g.loc[("random", 0.5), "gain_mean"] == 0.0
    for col in ["strategy", "budget", "n_labeled", "accuracy_mean", "accuracy_std", "random_mean",
                "gain_mean", "gain_std", "n_seeds"]:
        assert col in g.reset_index().columns


def _rows(group, strategy, accs, budget=0.5, n=100, seeds=None):
    return [{**group, "strategy": strategy, "seed": s, "budget": budget, "n_labeled": n, "accuracy": a}
            for s, a in zip(seeds if seeds is not None else range(len(accs)), accs)]


def test_gain_is_paired_by_seed_not_a_difference_of_means():
    # entropy beats random by exactly 0.10 at every seed, although the seeds differ a lot:
    # paired gains are 0.10, 0.10, 0.10 → std 0; an unpaired spread would be large.
    t = pd.DataFrame(_rows(G, "random", [0.50, 0.70, 0.60]) + _rows(G, "entropy", [0.60, 0.80, 0.70]))
    row = budget_gains(t).set_index("strategy").loc["entropy"]
    assert row["gain_mean"] == pytest.approx(0.10)
    assert row["gain_std"] == pytest.approx(0.0, abs=1e-12)
    assert row["accuracy_std"] == pytest.approx(0.10)  # ddof=1 of 0.6, 0.8, 0.7


def test_only_seeds_that_random_also_ran_are_paired():
    # random ran seeds 0 and 1; entropy ran 0, 1, 2: gains 0.04 and 0.08 (seed 2 unpaired)
    t = pd.DataFrame(_rows(G, "random", [0.50, 0.60]) + _rows(G, "entropy", [0.54, 0.68, 0.99]))
    row = budget_gains(t).set_index("strategy").loc["entropy"]
    assert (row["n_seeds"], row["n_paired"]) == (3, 2)
    assert row["gain_mean"] == pytest.approx(0.06)
    assert row["gain_std"] == pytest.approx(np.std([0.04, 0.08], ddof=1))
    assert row["random_mean"] == pytest.approx(0.55)
    assert row["accuracy_mean"] == pytest.approx((0.54 + 0.68 + 0.99) / 3)  # all seeds of the strategy


def test_gains_are_within_a_comparison_group():
    # group A has random; group B (another model) has none, so its gains are undefined, not A's
    b = {**G, "model": "other"}
    t = pd.DataFrame(_rows(G, "random", [0.5, 0.6]) + _rows(G, "entropy", [0.6, 0.7])
                     + _rows(b, "entropy", [0.9, 0.9]))
    g = budget_gains(t).set_index(["model", "strategy"])
    assert g.loc[("m", "entropy"), "gain_mean"] == pytest.approx(0.1)
    assert np.isnan(g.loc[("other", "entropy"), "gain_mean"])
    assert np.isnan(g.loc[("other", "entropy"), "random_mean"])
    assert g.loc[("other", "entropy"), "n_paired"] == 0


def test_one_seed_has_no_spread_and_labels_are_rounded_means():
    t = pd.DataFrame(_rows(G, "random", [0.5]) + _rows(G, "entropy", [0.6], n=101)
                     + _rows(G, "entropy", [0.6], n=102, seeds=[1]))
    g = budget_gains(t).set_index("strategy")
    assert np.isnan(g.loc["random", "accuracy_std"]) and np.isnan(g.loc["random", "gain_std"])
    assert np.isnan(g.loc["entropy", "gain_std"])  # one paired seed
    assert g.loc["entropy", "n_labeled"] == 102  # round(101.5) → 102 (banker's rounding of .5)


def test_columns_and_row_order_are_the_published_ones(paired_table):
    g = budget_gains(paired_table)
    assert list(g.columns) == COLUMNS == ["dataset", "embedder", "model", "schedule", "comparison_id", "strategy", "budget",
                                          "n_labeled", "accuracy_mean", "accuracy_std", "random_mean",
                                          "gain_mean", "gain_std", "n_seeds", "n_paired", "gain_ci_low",
                                          "gain_ci_high", "p_value", "n_pairs"]
    # sorted by group, then budget point, then strategy
    assert list(zip(g["budget"], g["strategy"])) == [(0.25, "entropy"), (0.25, "random"),
                                                      (0.5, "entropy"), (0.5, "random")]


# Student's t, 95 % two-sided, from first principles: df 1 (Cauchy) and df 2 (closed form)
T975 = {1: math.tan(math.pi * 0.475), 2: 0.95 / math.sqrt(2 * 0.975 * 0.025)}


def test_ci_and_p_value_by_hand(paired_table):
    g = budget_gains(paired_table).set_index(["strategy", "budget"])
    # entropy − random at 0.5: 0.02, 0.04, 0.06 → mean 0.04, se 0.02/√3, t = 2√3 on 2 df
    row = g.loc[("entropy", 0.5)]
    se = 0.02 / math.sqrt(3)
    assert row["gain_ci_low"] == pytest.approx(0.04 - T975[2] * se)
    assert row["gain_ci_high"] == pytest.approx(0.04 + T975[2] * se)
    assert row["p_value"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(12 + 2))  # 1 − t/√(t²+2), t² = 12
    assert row["n_pairs"] == row["n_paired"] == 3
    # at 0.25: 0, +0.01, −0.01 → mean 0, t = 0, p = 1, interval ± T·0.01/√3
    low = g.loc[("entropy", 0.25)]
    assert low["p_value"] == pytest.approx(1.0)
    assert (low["gain_ci_low"], low["gain_ci_high"]) == (pytest.approx(-T975[2] * 0.01 / math.sqrt(3)),
                                                         pytest.approx(T975[2] * 0.01 / math.sqrt(3)))
    # random against itself: every seed tied → [0, 0], p = 1
    rnd = g.loc[("random", 0.5)]
    assert (rnd["gain_ci_low"], rnd["gain_ci_high"], rnd["p_value"]) == (0.0, 0.0, 1.0)


def test_two_pairs_use_one_degree_of_freedom():
    # gains 0.04 and 0.08 (seed 2 of entropy is unpaired): t = 0.06 / 0.02 = 3 on 1 df
    t = pd.DataFrame(_rows(G, "random", [0.50, 0.60]) + _rows(G, "entropy", [0.54, 0.68, 0.99]))
    row = budget_gains(t).set_index("strategy").loc["entropy"]
    assert row["n_pairs"] == 2
    assert row["p_value"] == pytest.approx(1 - 2 / math.pi * math.atan(3.0))
    assert row["gain_ci_low"] == pytest.approx(0.06 - T975[1] * 0.02)
    assert row["gain_ci_high"] == pytest.approx(0.06 + T975[1] * 0.02)


def test_one_pair_and_no_random_give_nan_not_a_number():
    one = pd.DataFrame(_rows(G, "random", [0.5]) + _rows(G, "entropy", [0.6]))
    row = budget_gains(one).set_index("strategy").loc["entropy"]
    assert row["n_pairs"] == 1 and row["gain_mean"] == pytest.approx(0.1)
    assert np.isnan(row["gain_ci_low"]) and np.isnan(row["gain_ci_high"]) and np.isnan(row["p_value"])
    alone = budget_gains(pd.DataFrame(_rows(G, "entropy", [0.6, 0.7, 0.8]))).iloc[0]
    assert alone["n_pairs"] == 0 and np.isnan(alone["p_value"]) and np.isnan(alone["gain_ci_low"])


def test_the_same_gain_at_every_seed_is_p0_with_a_point_interval():
    # 0.10 at every seed (up to float rounding): zero spread → [0.1, 0.1], p = 0
    t = pd.DataFrame(_rows(G, "random", [0.50, 0.70, 0.60]) + _rows(G, "entropy", [0.60, 0.80, 0.70]))
    row = budget_gains(t).set_index("strategy").loc["entropy"]
    assert row["p_value"] == 0.0
    assert row["gain_ci_low"] == pytest.approx(0.1) and row["gain_ci_high"] == pytest.approx(0.1)


def test_a_tie_with_random_is_p1():
    t = pd.DataFrame(_rows(G, "random", [0.50, 0.70, 0.60]) + _rows(G, "margin", [0.50, 0.70, 0.60]))
    row = budget_gains(t).set_index("strategy").loc["margin"]
    assert (row["gain_mean"], row["gain_ci_low"], row["gain_ci_high"], row["p_value"]) == (0.0, 0.0, 0.0, 1.0)


def test_a_strategy_missing_a_budget_point_has_no_row_there():
    t = pd.DataFrame(_rows(G, "random", [0.5, 0.6], budget=0.25)
                     + _rows(G, "random", [0.7, 0.8], budget=0.5)
                     + _rows(G, "entropy", [0.55, 0.62], budget=0.25))
    g = budget_gains(t)
    assert list(zip(g["budget"], g["strategy"])) == [(0.25, "entropy"), (0.25, "random"), (0.5, "random")]
    # gains 0.05, 0.02: mean 0.035, sd 0.03/√2, se 0.015, t = 0.035/0.015 on 1 df
    assert g.iloc[0]["p_value"] == pytest.approx(1 - 2 / math.pi * math.atan(0.035 / 0.015))
