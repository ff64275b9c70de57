import numpy as np
import pandas as pd
import pytest

from al_bench.aggregate import aggregate, budget_gains, labels_to_match
from al_bench.results import write_csv, write_status

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}


def _table():
    """random and entropy, 3 seeds, 2 budget points; entropy is 0.02/0.04/0.06 better at 0.5."""
    rows = []
    acc = {
        ("random", 0.25): [0.50, 0.52, 0.54], ("random", 0.5): [0.60, 0.61, 0.62],
        ("entropy", 0.25): [0.50, 0.53, 0.53], ("entropy", 0.5): [0.62, 0.65, 0.68],
    }
    for (strategy, budget), values in acc.items():
        for seed, a in enumerate(values):
            rows.append({**G, "strategy": strategy, "seed": seed, "budget": budget,
                         "n_labeled": int(budget * 400), "accuracy": a, "full_pool_accuracy": 0.66})
    return pd.DataFrame(rows)


def test_budget_gains_are_seed_paired_with_ddof1():
    g = budget_gains(_table()).set_index(["strategy", "budget"])
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


def test_labels_to_match_interpolates_and_says_not_reached():
    t = labels_to_match(_table()).set_index("strategy")
    # entropy mean: 0.52 at 100 labels, 0.65 at 200; target 0.66 → not reached
    assert t.loc["entropy", "reached"].startswith("not reached")
    t2 = labels_to_match(_table().assign(full_pool_accuracy=0.60)).set_index("strategy")
    # entropy: 0.52 → 0.65 between 100 and 200 labels; 0.60 is reached at 100 + 100·(0.08/0.13)
    assert t2.loc["entropy", "labels_to_match"] == pytest.approx(100 + 100 * 0.08 / 0.13)
    # random: 0.52 → 0.61; reached at 100 + 100·(0.08/0.09)
    assert t2.loc["random", "labels_to_match"] == pytest.approx(100 + 100 * 0.08 / 0.09)
    assert t2.loc["entropy", "labels_saved"] == pytest.approx(100 * 0.08 / 0.09 - 100 * 0.08 / 0.13)


def test_aggregate_reads_files_and_lists_failed_runs(tmp_path):
    table = _table()
    for (strategy, seed), rows in table.groupby(["strategy", "seed"]):
        run = tmp_path / "runs" / "any" / "name" / f"{strategy}-{seed}"
        write_csv(rows, run / "curve.csv")
        write_status(run, "ok")
    write_status(tmp_path / "runs" / "broken", "failed", error="ValueError: boom")
    write_status(tmp_path / "runs" / "killed", "running")
    report = aggregate(tmp_path)
    assert len(report.results) == len(table)
    assert sorted(p.split(":")[0] for p in report.problems) == ["broken", "killed"]
    assert "boom" in " ".join(report.problems)
    for f in ["tables/results.csv", "tables/budget_gains.csv", "tables/labels_to_match.csv",
              "tables/run_status.csv", "figures/learning_curves.png"]:
        assert (tmp_path / f).stat().st_size > 0, f
    gains = pd.read_csv(tmp_path / "tables" / "budget_gains.csv")
    assert set(gains["strategy"]) == {"random", "entropy"}
