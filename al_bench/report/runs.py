"""Run folders → the results frame and the status of every run. Reads files only: what a row
belongs to comes from the columns of ``curve.csv``, never from a folder's name.

- ``expected_runs``: the run folders sweeps announced before launching (``sweeps/*.txt``);
- ``read_run``: one finished run's ``curve.csv`` with its ``timing.csv`` columns beside it;
- ``read_runs``: every run under a folder → :class:`Runs` (results, status, problems).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..runfiles import CURVE, RUN_KEYS, TIMING, RunRecord, find_runs

log = logging.getLogger(__name__)

__all__ = ["Runs", "with_identity", "expected_runs", "listed_runs", "read_run", "read_runs", "STATUS_COLUMNS", "SORT_KEYS"]

STATUS_COLUMNS = ["run", "status", "error"]  # tables/run_status.csv
SORT_KEYS = RUN_KEYS + ["budget"]  # the row order of tables/results.csv


@dataclass
class Runs:
    """What the run folders hold: ``results`` (every curve row of every finished run, with a
    ``run`` column; empty when none finished), ``status`` (one row per run found or announced)
    and ``problems`` (one line per run left out, and why)."""

    results: pd.DataFrame
    status: pd.DataFrame
    problems: list[str] = field(default_factory=list)


def expected_runs(outputs_dir: Path) -> set[Path]:
    """Run folders that sweeps announced before launching (``outputs_dir/sweeps/*.txt``); a
    relative entry is relative to ``outputs_dir`` (wherever aggregation runs from)."""
    expected = set()
    for listing in sorted((Path(outputs_dir) / "sweeps").glob("*.txt")):
        expected.update(listed_runs(listing, outputs_dir))
    return expected


def listed_runs(listing: Path, outputs_dir: Path) -> list[Path]:
    """The run folders one sweep listing names, resolved (relative entries from ``outputs_dir``)."""
    out = []
    for line in Path(listing).read_text().splitlines():
        if line.strip():
            p = Path(line)
            out.append((p if p.is_absolute() else Path(outputs_dir) / p).resolve())
    return out


def read_run(run_dir: Path) -> pd.DataFrame:
    """One run's curve rows, with the wall times and memory of ``timing.csv`` (when present)
    merged in by budget point."""
    frame = pd.read_csv(run_dir / CURVE)
    if (run_dir / TIMING).is_file():  # wall times and memory sit beside the results
        timing = pd.read_csv(run_dir / TIMING)
        frame = frame.merge(timing[["budget", *[c for c in timing.columns if c.endswith(("_seconds", "_mb"))]]],
                            on="budget", how="left", validate="one_to_one")
    return frame


def _relative(run_dir: Path, runs_dir: Path) -> str:
    return run_dir.relative_to(runs_dir).as_posix() if run_dir.is_relative_to(runs_dir) else str(run_dir)


def read_runs(runs_dir: Path, outputs_dir: Path) -> Runs:
    """Every run under ``runs_dir``, and the runs a sweep in ``outputs_dir/sweeps`` announced
    that never started. A run is in ``results`` only if its status is ok and it has a curve."""
    runs_dir, outputs_dir = Path(runs_dir), Path(outputs_dir)
    records: list[RunRecord] = find_runs(runs_dir)
    frames, status_rows, problems = [], [], []
    for r in records:
        rel = _relative(r.run_dir, runs_dir)
        st = r.status.get("status", "unknown")
        status_rows.append({"run": rel, "status": st if st != "ok" or r.ok else "missing curve.csv",
                            "error": r.status.get("error", "")})
        if r.ok:
            frames.append(read_run(r.run_dir).assign(run=rel))
        else:
            problems.append(f"{rel}: {status_rows[-1]['status']}" + (f" ({r.status['error']})" if r.status.get("error") else ""))
    seen = {r.run_dir.resolve() for r in records}
    for listed in sorted(expected_runs(outputs_dir) - seen):
        rel = _relative(listed, runs_dir.resolve())
        status_rows.append({"run": rel, "status": "never started", "error": ""})
        problems.append(f"{rel}: never started (listed by a sweep in {outputs_dir / 'sweeps'})")
    status = pd.DataFrame(status_rows, columns=STATUS_COLUMNS)
    if not frames:
        problems.insert(0, f"no finished runs under {runs_dir}")
        return Runs(pd.DataFrame(), status, problems)
    results = _identify(pd.concat(frames, ignore_index=True)).sort_values(SORT_KEYS, kind="stable")
    return Runs(results, status, problems)


def with_identity(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with the identity columns a comparison groups by (``comparison_id``,
    ``strategy_id``); frames from runs written before they existed get "unknown" (one group)."""
    missing = [c for c in ("comparison_id", "strategy_id") if c not in results]
    return results.assign(**{c: "unknown" for c in missing}) if missing else results


def _identify(results: pd.DataFrame) -> pd.DataFrame:
    """Identity columns made usable for grouping: runs written before they existed get "unknown" (one
    group, as they were aggregated then). When runs of one strategy name in one comparison group
    differ in their strategy settings (``strategy_id``: other parameters or random share), each
    variant becomes its own strategy, ``name@<strategy_id[:6]>``, so that no table or curve
    averages different configurations."""
    for col in ("comparison_id", "strategy_id"):
        results[col] = results[col].fillna("unknown").astype(str) if col in results else "unknown"
    results = results[[c for c in results.columns if c != "run"] + ["run"]]  # the run's folder stays last
    keys = [k for k in RUN_KEYS if k not in ("strategy", "seed")] + ["strategy"]
    n_variants = results.groupby(keys)["strategy_id"].transform("nunique")
    many = n_variants > 1
    if many.any():
        results.loc[many, "strategy"] = results.loc[many, "strategy"] + "@" + results.loc[many, "strategy_id"].str[:6]
        log.warning("aggregate: strategies run with different settings in one comparison are reported apart: %s",
                    ", ".join(sorted(results.loc[many, "strategy"].unique())))
    return results
