"""Results frames and run folders for the report tests, built here (no run is executed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_bench.runfiles import CURVE, TIMING, TIMING_COLUMNS, write_csv, write_status

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
