"""Results frames and run folders for the report tests, built here (no run is executed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_bench.runfiles import CURVE, SELECTED, TIMING, TIMING_COLUMNS, write_csv, write_status

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}


@pytest.fixture
def paired_table() -> pd.DataFrame:
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


@pytest.fixture
def curve_results() -> pd.DataFrame:
    """A results frame with every column a run's curve.csv has (plus timing and ``run``, as
    aggregate builds it): random and entropy × 3 seeds × 3 budget points, 3 classes."""
    rng = np.random.default_rng(0)
    rows = []
    for strategy in ["random", "entropy"]:
        for seed in range(3):
            for i, budget in enumerate([0.1, 0.2, 0.4]):
                n = int(budget * 500)
                counts = rng.multinomial(n, [1 / 3] * 3)
                rows.append({
                    **G, "strategy": strategy, "seed": seed, "budget": budget, "n_labeled": n,
                    "fraction": n / 500, "rounds": i + 1,
                    "accuracy": 0.6 + 0.1 * i + (0.02 if strategy == "entropy" else 0.0) + 0.01 * rng.standard_normal(),
                    "ece": 0.05, "ece_uncalibrated": 0.08, "temperature": 1.2,
                    "stop_kappa": np.nan if i == 0 else 0.9 + 0.05 * i,
                    **{f"labeled_{c}": int(k) for c, k in enumerate(counts)},
                    "full_pool_accuracy": 0.85 + 0.01 * seed, "pool_size": 500, "test_size": 120,
                    "calibration_size": 50, "split_hash": f"split{seed}", "embedding_checksum": "emb",
                    "al_bench_version": "0.1.0", "code_version": "0.1.0+test", "git_commit": "0" * 40,
                    "config_fingerprint": f"{strategy}{seed}", "dataset_config": "d", "embedder_config": "e",
                    "n_skipped_items": 0,
                    **{c: 0.001 * (i + 1) for c in TIMING_COLUMNS},
                    "run": f"{strategy}/seed{seed}",
                })
    return pd.DataFrame(rows)


def _write_runs(root: Path, results: pd.DataFrame) -> list[Path]:
    """One ok run folder per (strategy, seed) under ``root``, named ``run-<k>`` so that nothing can
    be read from the name: curve.csv, timing.csv (when the frame has timing columns), status.json."""
    timing = [c for c in results.columns if c in TIMING_COLUMNS]
    curve = [c for c in results.columns if c not in timing and c != "run"]
    dirs = []
    for k, (_, rows) in enumerate(results.groupby(["strategy", "seed"], sort=True)):
        run = Path(root) / f"run-{k}"
        write_csv(rows[curve], run / CURVE)
        if timing:
            write_csv(rows[["dataset", "embedder", "model", "schedule", "strategy", "seed", "budget", *timing]],
                      run / TIMING)
        write_status(run, "ok")
        dirs.append(run)
    return dirs


@pytest.fixture
def write_runs():
    """``write_runs(root, results) → run folders``: the frame as the run files a sweep leaves."""
    return _write_runs


# -- runs with classes: curve.csv with the per-class metrics, and the selected.csv behind it ------

CLASSES = ("a", "b", "rare")
INITIAL = {0: "aaba", 1: "abab", 2: "arab"}  # round 0 at each seed, shared by the strategies (r: rare)
BOUGHT = {  # rounds 1, 2, 3 of 4 labels each; budget points after rounds 1 and 3 (8 and 16 labels)
    ("random", 0): "abaa" "bara" "abab",  # rare: first in round 2 (12 labels), never a fifth
    ("random", 1): "aaba" "abab" "baab",  # rare: never bought
    ("random", 2): "abaa" "baba" "abab",  # rare: first in the initial set (4 labels)
    ("entropy", 0): "rarb" "rrab" "raba",  # rare: first at 8, fifth at 16
    ("entropy", 1): "arba" "rrba" "rabr",  # rare: first at 8, fifth at 16
    ("entropy", 2): "rrab" "rrab" "abab",  # rare: first at 4 (initial), fifth at 12
}
POINTS = ((0.25, 8, 1), (0.5, 16, 3))  # budget, labels, rounds
CODE = {"a": 0, "b": 1, "r": 2}


def class_run_files(strategy: str, seed: int, new_metrics: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curve.csv, selected.csv) of one run of the :data:`BOUGHT` scenario, as frames. Accuracy:
    random above entropy by 0.05 at every seed; balanced accuracy: entropy above random by
    0.15–0.17. ``new_metrics=False``: a curve written before the per-class metrics existed."""
    seq = INITIAL[seed] + BOUGHT[(strategy, seed)]
    codes = [CODE[ch] for ch in seq]
    rounds = [0] * 4 + [1 + k // 4 for k in range(12)]
    selected = pd.DataFrame({"strategy": strategy, "seed": seed, "round": rounds, "pool_position": range(16),
                             "index": [100 + k for k in range(16)], "label": codes,
                             "source": ["initial"] * 4 + ["strategy"] * 12, "id": [f"img{k}" for k in range(16)]})
    rows = []
    for i, (budget, n, rnd) in enumerate(POINTS):
        ent = strategy == "entropy"
        acc = (0.65 if ent else 0.70) + 0.1 * i + 0.01 * seed
        bal = (0.55 + 0.02 * seed if ent else 0.40 + 0.01 * seed) + 0.1 * i
        worst = 0.2 + 0.1 * i if ent else 0.0
        counts = np.bincount(codes[:n], minlength=3)
        rows.append({**G, "strategy": strategy, "seed": seed, "budget": budget, "n_labeled": n, "fraction": n / 32,
                     "rounds": rnd, "accuracy": acc, "ece": 0.05, "ece_uncalibrated": 0.08, "temperature": 1.1,
                     **({"balanced_accuracy": bal, "macro_f1": bal - 0.05, "worst_class_recall": worst,
                         "recall_a": 0.9, "recall_b": 3 * bal - 0.9 - worst, "recall_rare": worst} if new_metrics else {}),
                     **{f"labeled_{c}": int(k) for c, k in zip(CLASSES, counts)},
                     "full_pool_accuracy": 0.9, "pool_size": 32, "comparison_id": "c1", "strategy_id": strategy,
                     "config_id": strategy})
    return pd.DataFrame(rows), selected


def _write_class_runs(root: Path, old: tuple[tuple[str, int], ...] = ()) -> list[Path]:
    """The six runs of :data:`BOUGHT` as ok run folders under ``root`` (``run-<k>``): curve.csv and
    selected.csv; the runs in ``old`` without the per-class metrics."""
    dirs = []
    for k, (strategy, seed) in enumerate(sorted(BOUGHT)):
        curve, selected = class_run_files(strategy, seed, (strategy, seed) not in old)
        run = Path(root) / f"run-{k}"
        write_csv(curve, run / CURVE)
        write_csv(selected, run / SELECTED)
        write_status(run, "ok")
        dirs.append(run)
    return dirs


@pytest.fixture
def write_class_runs():
    """``write_class_runs(root, old=()) → run folders``: the :data:`BOUGHT` scenario on disk."""
    return _write_class_runs


def _purchases_of(results: pd.DataFrame) -> pd.DataFrame:
    """A purchases frame (as :func:`al_bench.report.runs.read_purchases` gives) for a results frame
    without run folders: per run, the items its last budget point counts, one per round."""
    rows = []
    for run, r in results.groupby("run", sort=True):
        last = r.sort_values("n_labeled").iloc[-1]
        classes = [c[len("labeled_"):] for c in results.columns if c.startswith("labeled_")]
        items = [c for c in classes for _ in range(int(last[f"labeled_{c}"]))]
        items = [items[k] for k in np.random.default_rng(0).permutation(len(items))]
        rows += [{"run": run, "round": k, "source": "strategy", "class": c, "labels": k + 1}
                 for k, c in enumerate(items)]
    return pd.DataFrame(rows)


@pytest.fixture
def tables_only(monkeypatch):
    """The registry without its figure reports for one test, so that aggregate runs in a blink."""
    from al_bench.report import REPORTS

    REPORTS.discover()
    monkeypatch.setattr(REPORTS, "_entries", {n: e for n, e in REPORTS._entries.items() if e.kind == "table"})


@pytest.fixture
def purchases_of():
    """``purchases_of(results) → purchases frame`` for a results frame without run folders."""
    return _purchases_of


@pytest.fixture(name="class_run_files")
def class_run_files_fixture():
    """``class_run_files(strategy, seed, new_metrics=True) → (curve, selected)`` of the :data:`BOUGHT` scenario."""
    return class_run_files
