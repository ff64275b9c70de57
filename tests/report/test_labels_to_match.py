import numpy as np
import pandas as pd
import pytest

from al_bench.report import labels_to_match

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}


def test_labels_to_match_interpolates_and_says_not_reached(paired_table):
    t = labels_to_match(paired_table).set_index("strategy")
    # entropy mean: 0.52 at 100 labels, 0.65 at 200; target 0.66 → not reached
    assert t.loc["entropy", "reached"].startswith("not reached")
    t2 = labels_to_match(paired_table.assign(full_pool_accuracy=0.60)).set_index("strategy")
    # entropy: 0.52 → 0.65 between 100 and 200 labels; 0.60 is reached at 100 + 100·(0.08/0.13)
    assert t2.loc["entropy", "labels_to_match"] == pytest.approx(100 + 100 * 0.08 / 0.13)
    # random: 0.52 → 0.61; reached at 100 + 100·(0.08/0.09)
    assert t2.loc["random", "labels_to_match"] == pytest.approx(100 + 100 * 0.08 / 0.09)
    assert t2.loc["entropy", "labels_saved"] == pytest.approx(100 * 0.08 / 0.09 - 100 * 0.08 / 0.13)


def test_not_reached_names_the_largest_budget_and_leaves_the_saving_empty(paired_table):
    t = labels_to_match(paired_table).set_index("strategy")
    assert t.loc["entropy", "reached"] == "not reached by 200"
    assert np.isnan(t.loc["entropy", "labels_to_match"]) and np.isnan(t.loc["entropy", "labels_saved"])
    assert t.loc["entropy", "target_accuracy"] == pytest.approx(0.66)
    assert t.loc["entropy", "n_seeds"] == 3


def test_reached_at_the_first_budget_point_and_saving_fraction(paired_table):
    # target 0.51: entropy (mean 0.52) and random (mean 0.52) both reach it at the first point
    t = labels_to_match(paired_table.assign(full_pool_accuracy=0.51)).set_index("strategy")
    assert t.loc["entropy", "labels_to_match"] == 100 and t.loc["entropy", "reached"] == "yes"
    assert t.loc["entropy", "saving_fraction"] == 0.0
    t2 = labels_to_match(paired_table.assign(full_pool_accuracy=0.60)).set_index("strategy")
    rnd, ent = 100 + 100 * 0.08 / 0.09, 100 + 100 * 0.08 / 0.13
    assert t2.loc["entropy", "saving_fraction"] == pytest.approx((rnd - ent) / rnd)
    assert t2.loc["entropy", "random_labels"] == pytest.approx(rnd)


def test_target_is_the_mean_full_pool_accuracy_over_seeds_once_per_seed(paired_table):
    t = paired_table.assign(full_pool_accuracy=paired_table["seed"].map({0: 0.55, 1: 0.60, 2: 0.65}))
    out = labels_to_match(t).set_index("strategy")
    assert out.loc["random", "target_accuracy"] == pytest.approx(0.60)


def test_without_random_there_is_no_saving(paired_table):
    t = labels_to_match(paired_table[paired_table["strategy"] != "random"].assign(full_pool_accuracy=0.6))
    assert list(t["strategy"]) == ["entropy"]
    assert np.isnan(t.loc[0, "random_labels"]) and np.isnan(t.loc[0, "labels_saved"])


def test_one_row_per_group_and_strategy_with_the_published_columns(paired_table):
    two = pd.concat([paired_table, paired_table.assign(embedder="other")], ignore_index=True)
    t = labels_to_match(two)
    assert list(t.columns) == ["dataset", "embedder", "model", "schedule", "comparison_id", "strategy", "target_accuracy",
                               "labels_to_match", "reached", "random_labels", "labels_saved", "saving_fraction",
                               "n_seeds", "target_accuracy_95", "labels_to_95", "reached_95", "random_labels_95",
                               "labels_saved_95", "saving_fraction_95"]
    assert list(zip(t["embedder"], t["strategy"])) == [("e", "entropy"), ("e", "random"),
                                                        ("other", "entropy"), ("other", "random")]


def test_labels_to_95_percent_of_full_pool_by_hand(paired_table):
    # full pool 0.66 → 95 % is 0.627; entropy 0.52 → 0.65 between 100 and 200 labels: reached at
    # 100 + 100·(0.627 − 0.52)/0.13; random 0.52 → 0.61 never reaches it
    t = labels_to_match(paired_table).set_index("strategy")
    assert t.loc["entropy", "target_accuracy_95"] == pytest.approx(0.627)
    assert t.loc["entropy", "labels_to_95"] == pytest.approx(100 + 100 * 0.107 / 0.13)
    assert t.loc["entropy", "reached_95"] == "yes" and t.loc["random", "reached_95"] == "not reached by 200"
    assert np.isnan(t.loc["random", "labels_to_95"]) and np.isnan(t.loc["entropy", "labels_saved_95"])
    assert t.loc["entropy", "reached"].startswith("not reached")  # 100 % is not: the reason for 95 %
    # full pool 0.60 → 0.57: entropy at 100 + 100·0.05/0.13, random at 100 + 100·0.05/0.09
    t2 = labels_to_match(paired_table.assign(full_pool_accuracy=0.60)).set_index("strategy")
    ent, rnd = 100 + 100 * 0.05 / 0.13, 100 + 100 * 0.05 / 0.09
    assert t2.loc["entropy", "labels_to_95"] == pytest.approx(ent)
    assert t2.loc["entropy", "random_labels_95"] == pytest.approx(rnd)
    assert t2.loc["entropy", "labels_saved_95"] == pytest.approx(rnd - ent)
    assert t2.loc["entropy", "saving_fraction_95"] == pytest.approx((rnd - ent) / rnd)
