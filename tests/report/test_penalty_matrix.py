"""tables/penalty_matrix.csv on a hand-made results table: which budget points count, which
pairs are significant (p-values computed here with Student's t on 2 df), the entries, the
column sums and the order."""

import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report.reports.penalty_matrix import penalty_matrix

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
FULL = 0.80  # full-pool accuracy; points count while random's mean < 0.99 · 0.80 = 0.792
RANDOM = {0.1: [0.50, 0.52, 0.48], 0.2: [0.70, 0.72, 0.68], 0.4: [0.79, 0.80, 0.795]}  # means 0.50, 0.70, 0.795
# a and b as offsets from random at each seed
A = {0.1: [0.09, 0.10, 0.11], 0.2: [0.0, 0.0, 0.0], 0.4: [0.1, 0.1, 0.1]}
B = {0.1: [0.02, 0.04, 0.06], 0.2: [-0.09, -0.10, -0.11], 0.4: [-0.1, -0.1, -0.1]}


def p_df2(diffs):
    """Two-sided paired t-test p-value for 3 differences, by hand: t on 2 df, p = 1 − |t|/√(t²+2)."""
    d = np.asarray(diffs, float)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    return 1 - abs(t) / math.sqrt(t * t + 2)


def test_the_hand_p_values_fall_where_the_table_says():
    # 0.1: a−random 17.3σ (p 0.003, beats), b−random (p 0.074, not significant), a−b (p 0.009, beats)
    assert p_df2(A[0.1]) < 0.05 and p_df2(B[0.1]) > 0.05
    assert p_df2(np.subtract(A[0.1], B[0.1])) < 0.05
    # 0.2: a ties random (p = 1 by definition), random−b and a−b are 0.09/0.10/0.11 (p 0.003)
    assert p_df2(np.negative(B[0.2])) < 0.05


def build(strategies=("random", "a", "b"), seeds=(0, 1, 2), points=(0.1, 0.2, 0.4), group=G, full=FULL):
    offsets = {"random": {b: [0.0] * 3 for b in RANDOM}, "a": A, "b": B}
    return pd.DataFrame([{**group, "strategy": s, "seed": k, "budget": b, "n_labeled": int(b * 1000),
                          "accuracy": RANDOM[b][k] + offsets[s][b][k], "full_pool_accuracy": full}
                         for s in strategies for b in points for k in seeds])


def matrix(t):
    return t.set_index("strategy")[["a", "random", "b"]]


def test_entries_column_sums_and_order_by_hand():
    t = penalty_matrix(build())
    # 2 counted points (0.4 is excluded: random's mean 0.795 ≥ 0.792), each worth 1/2:
    # a beats random at 0.1; a beats b at 0.1 and 0.2; random beats b at 0.2
    assert t["n_points"].tolist() == [2, 2, 2] and t["points"].iloc[0] == "0.1;0.2"
    assert t["rule"].iloc[0] == "random below 99% of full-pool accuracy"
    assert list(t["strategy"]) == ["a", "random", "b"]  # beaten 0, 0.5, 1.5
    m = matrix(t)
    assert m.loc["a", "random"] == pytest.approx(0.5) and m.loc["a", "b"] == pytest.approx(1.0)
    assert m.loc["random", "b"] == pytest.approx(0.5) and m.loc["random", "a"] == 0.0
    assert m.loc["b", "a"] == 0.0 and m.loc["b", "random"] == 0.0  # b's +0.04 at 0.1 is not significant
    assert all(np.isnan(m.loc[s, s]) for s in ["a", "random", "b"])
    assert t["beaten"].tolist() == pytest.approx([0.0, 0.5, 1.5])
    assert t["wins"].tolist() == pytest.approx([1.5, 0.5, 0.0])
    assert t["n_untested"].tolist() == [0, 0, 0]
    assert list(t.columns) == ["dataset", "embedder", "model", "schedule", "comparison_id", "strategy", "a",
                               "random", "b", "beaten", "wins", "n_untested", "n_points", "points", "rule"]


def test_a_strategy_missing_a_budget_point_is_not_tested_there():
    full = build()
    t = penalty_matrix(full[~((full.strategy == "b") & (full.budget == 0.2))])
    m = matrix(t)
    assert m.loc["a", "b"] == pytest.approx(0.5) and m.loc["random", "b"] == 0.0  # only 0.1 is left for b
    assert t.set_index("strategy")["n_untested"].to_dict() == {"a": 1, "random": 1, "b": 2}
    assert t["n_points"].iloc[0] == 2  # still 1/2 per point: the denominator is the group's points


def test_one_seed_tests_nothing():
    t = penalty_matrix(build(seeds=(0,)))
    assert (t[["a", "random", "b"]].fillna(0) == 0).all().all()
    assert list(t["strategy"]) == ["a", "b", "random"]  # all tied at 0: by name
    # with seed 0 alone random's 0.4 point is 0.79 < 0.792, so 3 points count, none testable
    assert t["n_points"].iloc[0] == 3
    assert t["n_untested"].tolist() == [6, 6, 6]  # 3 points × 2 opponents


def test_every_point_counts_when_random_is_missing():
    t = penalty_matrix(build(strategies=("a", "b")))
    assert t["rule"].iloc[0] == "every point (no random runs in this group)" and t["n_points"].iloc[0] == 3
    # a − b: 0.07/0.06/0.05 at 0.1, 0.09/0.10/0.11 at 0.2, 0.2 at every seed at 0.4 (zero spread: p = 0)
    assert t.set_index("strategy").loc["a", "b"] == pytest.approx(1.0)
    assert "random" not in t.columns or t["random"].isna().all()


def test_no_point_counts_once_random_has_caught_up():
    t = penalty_matrix(build(full=0.70))  # 0.99 · 0.70 = 0.693: random's 0.70 and 0.795 are past it, 0.50 not
    assert t["points"].iloc[0] == "0.1" and t["n_points"].iloc[0] == 1
    assert matrix(t).loc["a", "b"] == pytest.approx(1.0) and matrix(t).loc["random", "b"] == 0.0
    t0 = penalty_matrix(build(full=0.40))
    assert t0["n_points"].iloc[0] == 0 and t0["points"].iloc[0] == ""
    assert (t0[["a", "random", "b"]].fillna(0) == 0).all().all()


def test_the_full_pool_accuracy_is_random_s_mean_over_its_seeds():
    t = build()
    t.loc[t.strategy == "random", "full_pool_accuracy"] = t.loc[t.strategy == "random", "seed"].map(
        {0: 0.70, 1: 0.70, 2: 0.71})  # mean 0.7033 → 0.99 × = 0.6963: only 0.1 counts
    assert penalty_matrix(t)["points"].iloc[0] == "0.1"


def test_groups_are_separate_and_columns_are_their_union():
    other = {**G, "model": "other"}
    t = penalty_matrix(pd.concat([build(), build(strategies=("random", "b"), group=other)]))
    assert list(t["model"]) == ["m", "m", "m", "other", "other"]
    o = t[t.model == "other"].set_index("strategy")
    assert o["a"].isna().all()  # a did not run in that group
    assert o.loc["random", "b"] == pytest.approx(0.5)  # random beats b at 0.2 there too
    assert list(o.index) == ["random", "b"]
