"""tables/labels_to_find.csv: labels bought until the first and fifth item of each class, read from
the runs' selected.csv on disk (the BOUGHT scenario of conftest, worked out by hand there)."""

import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report import REPORTS, aggregate
from al_bench.report.reports.labels_to_find import COLUMNS, labels_to_find
from al_bench.report.runs import read_purchases, read_runs
from al_bench.runfiles import SELECTED, write_csv


@pytest.fixture
def found(write_class_runs, tmp_path):
    """The table of the scenario, indexed by (strategy, class, nth)."""
    write_class_runs(tmp_path / "runs")
    runs = read_runs(tmp_path / "runs", tmp_path)
    purchases, problems = read_purchases(tmp_path / "runs", runs.results)
    assert problems == []
    return labels_to_find(runs.results, purchases).set_index(["strategy", "class", "nth"])


def test_the_purchases_carry_class_names_and_the_labels_bought_through_their_round(write_class_runs, tmp_path):
    write_class_runs(tmp_path / "runs")
    runs = read_runs(tmp_path / "runs", tmp_path)
    purchases, _ = read_purchases(tmp_path / "runs", runs.results)
    one = purchases[purchases["run"] == runs.results.loc[(runs.results["strategy"] == "entropy")
                                                         & (runs.results["seed"] == 2), "run"].iloc[0]]
    assert one["class"].tolist()[:8] == ["a", "rare", "a", "b", "rare", "rare", "a", "b"]
    assert one["labels"].tolist() == [4] * 4 + [8] * 4 + [12] * 4 + [16] * 4  # a batch is labeled as a whole


def test_first_and_fifth_item_per_strategy_and_class(found):
    assert sorted(found.reset_index().columns) == sorted(COLUMNS)
    r = found.loc[("entropy", "rare", 1)]
    assert (r["n_seeds"], r["n_reached"], r["budget_labels"]) == (3, 3, 16)
    assert r["labels_mean"] == pytest.approx((8 + 8 + 4) / 3)  # seed 2 has it in the initial set: 4 labels
    assert r["labels_std"] == pytest.approx(np.std([8, 8, 4], ddof=1))
    fifth = found.loc[("entropy", "rare", 5)]
    assert fifth["n_reached"] == 3 and fifth["labels_mean"] == pytest.approx((16 + 16 + 12) / 3)
    common = found.loc[("random", "a", 1)]
    assert common["labels_mean"] == 4 and common["n_reached"] == 3  # in every initial set
    # the fifth "a": 3 + 3, 2 + 3 and 2 + 3 of them by the end of round 1 at seeds 0, 1, 2
    assert found.loc[("random", "a", 5), ["labels_mean", "labels_std"]].tolist() == [8, 0]


def test_a_class_not_reached_is_nan_with_the_seeds_that_reached_it(found):
    first = found.loc[("random", "rare", 1)]  # seed 0 at 12, seed 1 never, seed 2 at 4
    assert (first["n_seeds"], first["n_reached"]) == (3, 2)
    assert math.isnan(first["labels_mean"]) and math.isnan(first["labels_std"])  # not a mean of the lucky seeds
    fifth = found.loc[("random", "rare", 5)]
    assert fifth["n_reached"] == 0 and math.isnan(fifth["labels_mean"])


def test_paired_with_random_over_the_seeds_both_reached(found):
    first = found.loc[("entropy", "rare", 1)]
    # seed 0: random 12 − entropy 8 = 4; seed 2: 4 − 4 = 0; seed 1: only entropy found it (left out, counted)
    assert (first["n_pairs"], first["only_this_reached"], first["only_random_reached"]) == (2, 1, 0)
    assert first["saved_mean"] == 2.0
    t = 12.706204736174698  # Student t, 97.5 %, 1 df
    half = t * np.std([4, 0], ddof=1) / math.sqrt(2)
    assert (first["saved_ci_low"], first["saved_ci_high"]) == pytest.approx((2 - half, 2 + half))
    fifth = found.loc[("entropy", "rare", 5)]
    assert (fifth["n_pairs"], fifth["only_this_reached"]) == (0, 3) and math.isnan(fifth["saved_mean"])
    same = found.loc[("entropy", "a", 1)]  # both find it in the shared initial set: tied at every seed
    assert (same["saved_mean"], same["saved_ci_low"], same["saved_ci_high"], same["p_value"]) == (0, 0, 0, 1)


def test_rows_in_strategy_then_class_code_order(found):
    assert [k[:2] for k in found.index[::2]] == [(s, c) for s in ("entropy", "random") for c in ("a", "b", "rare")]
    assert found.index.get_level_values("nth").tolist()[:2] == [1, 5]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_selected_csv_that_is_not_what_the_curve_counts_is_left_out(write_class_runs, tmp_path):
    dirs = write_class_runs(tmp_path / "runs")
    sel = pd.read_csv(dirs[0] / SELECTED)
    sel.loc[5, "label"] = 2 if sel.loc[5, "label"] != 2 else 0  # one purchase relabeled: counts disagree
    write_csv(sel, dirs[0] / SELECTED)
    (dirs[1] / SELECTED).unlink()
    runs = read_runs(tmp_path / "runs", tmp_path)
    purchases, problems = read_purchases(tmp_path / "runs", runs.results)
    assert [p.split(":")[0] for p in problems] == ["run-0", "run-1"]
    assert "first 8 purchases are not the labeled_<class> counts of curve.csv at budget point 0.25" in problems[0]
    assert "selected.csv: unreadable" in problems[1]
    assert set(purchases["run"]) == {f"run-{k}" for k in range(2, 6)}
    table = labels_to_find(runs.results, purchases)
    assert table.groupby("strategy")["n_seeds"].max().to_dict() == {"entropy": 1, "random": 3}


def test_aggregate_writes_it_from_the_run_folders(write_class_runs, tmp_path, monkeypatch, tables_only):
    write_class_runs(tmp_path / "runs")
    report = aggregate(tmp_path)
    written = pd.read_csv(tmp_path / REPORTS.entry("labels_to_find").output)
    assert len(written) == 2 * 3 * 2 and report.tables["labels_to_find"].shape == written.shape
    assert written.loc[(written["strategy"] == "entropy") & (written["class"] == "rare")
                       & (written["nth"] == 1), "saved_mean"].item() == 2.0


def test_whether_a_class_is_found_at_all_is_an_exact_sign_test(found):
    from al_bench.report.reports.labels_to_find import sign_test

    # by hand: 6 seeds found it only with the strategy, 0 only with random: 2 · 0.5^6
    assert sign_test(6, 0) == sign_test(0, 6) == pytest.approx(2 / 64)
    assert sign_test(3, 1) == pytest.approx(2 * (1 + 4) / 16)  # P(X <= 1) of Binomial(4, 1/2), both sides
    assert sign_test(0, 0) == 1.0 and sign_test(2, 2) == 1.0
    # entropy found the fifth rare item at all 3 seeds, random at none: 2 · 0.5^3
    assert found.loc[("entropy", "rare", 5), "reach_p_value"] == pytest.approx(0.25)
    assert found.loc[("entropy", "rare", 1), "reach_p_value"] == 1.0  # one seed only with entropy: 2 · 0.5
