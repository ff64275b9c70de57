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
                                          "gain_mean", "gain_std", "n_seeds", "n_paired"]
    # sorted by group, then budget point, then strategy
    assert list(zip(g["budget"], g["strategy"])) == [(0.25, "entropy"), (0.25, "random"),
                                                      (0.5, "entropy"), (0.5, "random")]
