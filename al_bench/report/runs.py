"""Run folders → the results frame and the status of every run. Reads files only: what a row
belongs to comes from the columns of ``curve.csv``, never from a folder's name.

- ``expected_runs``: the run folders sweeps announced before launching (``sweeps/*.txt``);
- ``read_run``: one finished run's ``curve.csv`` with its ``timing.csv`` columns beside it, read
  strictly (checksums from ``status.json`` when it has them, whole rows, identity columns);
- ``read_runs``: every run under a folder → :class:`Runs` (results, status, problems). A run
  whose files do not read back whole is "damaged" and left out, never half-read; two folders
  holding the same run (same config_id and seed, e.g. a copied folder) count once when their
  results are byte-identical and not at all when they differ, so no seed is paired twice.
- ``read_purchases``: the ``selected.csv`` of the runs in the results, in long form with class
  names, checked against the label counts their ``curve.csv`` records.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..runfiles import (
    CURVE,
    DECISIONS,
    RUN_KEYS,
    SELECTED,
    SKIPPED,
    TIMING,
    DamagedFile,
    RunRecord,
    checksum_problem,
    file_checksums,
    find_runs,
    read_csv_strict,
    strategy_id,
)

log = logging.getLogger(__name__)

__all__ = ["Runs", "with_identity", "expected_runs", "listed_runs", "read_run", "read_runs", "read_purchases",
           "read_settings", "DamagedFile", "STATUS_COLUMNS", "SORT_KEYS", "PURCHASE_COLUMNS", "LABELED"]

STATUS_COLUMNS = ["run", "status", "error"]  # tables/run_status.csv
SORT_KEYS = RUN_KEYS + ["budget"]  # the row order of tables/results.csv
# what every curve.csv has, whatever version wrote it; none of these may be empty
CURVE_REQUIRED = ("dataset", "embedder", "model", "schedule", "strategy", "seed", "budget", "n_labeled", "accuracy")
# columns that say which run a row belongs to: one value per file, never empty (the ids only
# where the file has them: runs written before them lack the columns)
IDENTITY = ("dataset", "embedder", "model", "schedule", "strategy", "seed", "comparison_id", "strategy_id", "config_id")
# the long form of every run's selected.csv (read_purchases): one row per labeled item, in purchase order
PURCHASE_COLUMNS = ["run", "round", "source", "class", "labels"]
LABELED = "labeled_"  # curve.csv's per-class label counts: labeled_<class>, in the order of the label codes
# the files whose bytes say whether two folders hold the same results (timing.csv and
# status.json record when and where, config.yaml where files went: they differ between reruns)
RESULT_FILES = (CURVE, SELECTED, SKIPPED, DECISIONS)


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


def read_run(run_dir: Path, status: dict | None = None) -> pd.DataFrame:
    """One run's curve rows, with the wall times and memory of ``timing.csv`` (when present)
    merged in by budget point. Raises :class:`DamagedFile` (one line naming the file) unless
    the files read back whole: the sha256 of each file ``status`` vouches for (runs written
    before checksums have none), every row complete, the identity columns filled and one value
    per file, one row per budget point, as many rows as ``status["n_points"]`` says."""
    run_dir = Path(run_dir)
    problem = checksum_problem(run_dir, status or {})
    if problem:
        raise DamagedFile(problem)
    frame = read_csv_strict(run_dir / CURVE, CURVE_REQUIRED, CURVE_REQUIRED + IDENTITY)
    varying = [c for c in IDENTITY if c in frame and frame[c].nunique() > 1]
    if varying:
        raise DamagedFile(f"{CURVE}: rows of more than one run ({', '.join(varying)} differ between rows)")
    if frame["budget"].duplicated().any():
        raise DamagedFile(f"{CURVE}: budget point {frame['budget'][frame['budget'].duplicated()].iloc[0]:g} twice")
    n_points = (status or {}).get("n_points")
    if isinstance(n_points, int) and n_points != len(frame):
        raise DamagedFile(f"{CURVE}: {len(frame)} budget point row(s), the run ended ok with {n_points}")
    if (run_dir / TIMING).is_file():  # wall times and memory sit beside the results
        timing = read_csv_strict(run_dir / TIMING, ("budget",), ("budget",))
        if sorted(timing["budget"].tolist()) != sorted(frame["budget"].tolist()):
            raise DamagedFile(f"{TIMING}: its budget points are not those of {CURVE}")
        frame = frame.merge(timing[["budget", *[c for c in timing.columns if c.endswith(("_seconds", "_mb"))]]],
                            on="budget", how="left", validate="one_to_one")
    return frame


def _run_identity(frame: pd.DataFrame) -> str:
    """What names the run a curve belongs to: its config_id and seed; for runs written before
    config_id, every identity column the file has."""
    cols = ["config_id", "seed"] if "config_id" in frame else [c for c in IDENTITY if c in frame]
    return ", ".join(f"{c} {frame[c].iloc[0]}" for c in cols)


def _one_per_run(found: list[tuple[str, Path, pd.DataFrame]], status: dict[str, dict],
                 problems: list[str]) -> list[pd.DataFrame]:
    """The frames of ``found`` (run, folder, curve) with each run once. Folders that hold the
    same run (:func:`_run_identity`) with byte-identical results count once, as the first in
    folder order; with different results none counts. Either way ``status`` and ``problems``
    name every folder involved."""
    by_run: dict[str, list[tuple[str, Path, pd.DataFrame]]] = {}
    for item in found:
        by_run.setdefault(_run_identity(item[2]), []).append(item)
    kept = []
    for ident, items in by_run.items():
        if len(items) == 1:
            kept.append(items[0][2])
            continue
        names = [rel for rel, _, _ in items]
        # the result files' checksums (an absent file has none, so absent differs from present)
        if len({tuple(sorted(file_checksums(d, RESULT_FILES).items())) for _, d, _ in items}) == 1:
            kept.append(items[0][2])
            for rel in names[1:]:
                status[rel].update(status="duplicate", error=f"a copy of {names[0]} ({ident}; identical results)")
                problems.append(f"{rel}: a copy of {names[0]} ({ident}; identical results): counted once, as {names[0]}")
        else:
            for rel in names:
                others = ", ".join(n for n in names if n != rel)
                status[rel].update(status="conflicting copies",
                                   error=f"the same run as {others} ({ident}) with different results")
            problems.append(f"{' and '.join(names)}: the same run ({ident}) with different results: none of them "
                            "is included (keep the right folder, move the others away)")
    return kept


def _relative(run_dir: Path, runs_dir: Path) -> str:
    return run_dir.relative_to(runs_dir).as_posix() if run_dir.is_relative_to(runs_dir) else str(run_dir)


def read_runs(runs_dir: Path, outputs_dir: Path) -> Runs:
    """Every run under ``runs_dir``, and the runs a sweep in ``outputs_dir/sweeps`` announced
    that never started. A run is in ``results`` only if its status is ok and it has a curve."""
    runs_dir, outputs_dir = Path(runs_dir), Path(outputs_dir)
    records: list[RunRecord] = find_runs(runs_dir)
    found, status_rows, problems = [], [], []
    for r in records:
        rel = _relative(r.run_dir, runs_dir)
        st = r.status.get("status", "unknown")
        status_rows.append({"run": rel, "status": st if st != "ok" or r.ok else "missing curve.csv",
                            "error": r.status.get("error", "")})
        if r.ok:
            try:
                found.append((rel, r.run_dir, read_run(r.run_dir, r.status).assign(run=rel)))
                continue
            except DamagedFile as exc:  # listed, never half-read
                status_rows[-1].update(status="damaged", error=str(exc))
        problems.append(f"{rel}: {status_rows[-1]['status']}"
                        + (f" ({status_rows[-1]['error']})" if status_rows[-1]["error"] else ""))
    frames = _one_per_run(found, {row["run"]: row for row in status_rows}, problems)
    seen = {r.run_dir.resolve() for r in records}
    for listed in sorted(expected_runs(outputs_dir) - seen):
        rel = _relative(listed, runs_dir.resolve())
        if (listed / "status.json").is_file():  # it ran, but somewhere this aggregation does not read
            status_rows.append({"run": rel, "status": "outside the runs folder", "error": ""})
            problems.append(f"{rel}: written outside {runs_dir}, so not included (hydra.sweep.dir or hydra.run.dir "
                            "moved it: set paths.outputs_dir to move a whole sweep, or read that folder with "
                            "python -m al_bench.report OUTPUTS --runs-dir FOLDER)")
            continue
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


def _class_names(run_dir: Path) -> list[str]:
    """The classes of a run in label-code order: the ``labeled_<class>`` columns of its ``curve.csv``."""
    with open(Path(run_dir) / CURVE, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    return [c[len(LABELED):] for c in header if c.startswith(LABELED)]


def _purchases_of(run_dir: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """One run's ``selected.csv`` as rows of :data:`PURCHASE_COLUMNS` (without ``run``); raises
    :class:`DamagedFile` when it cannot be the purchases its curve rows ``rows`` count."""
    names = _class_names(run_dir)
    if not names:
        raise DamagedFile(f"{CURVE}: no {LABELED}<class> columns, so its label codes have no class names")
    sel = read_csv_strict(run_dir / SELECTED, ("round", "label"), ("round", "label"))
    codes = sel["label"]
    if not pd.api.types.is_integer_dtype(codes) or codes.min() < 0 or codes.max() >= len(names):
        raise DamagedFile(f"{SELECTED}: label codes outside 0..{len(names) - 1} (the {len(names)} classes of {CURVE})")
    if (sel["round"].diff().dropna() < 0).any():
        raise DamagedFile(f"{SELECTED}: rounds out of purchase order")
    codes = codes.to_numpy()
    for _, r in rows.iterrows():  # the purchases must be what the curve counts, point by point
        n = int(r["n_labeled"])
        counted = [r.get(LABELED + c) for c in names]
        if n > len(codes) or any(pd.isna(k) for k in counted) or \
                np.bincount(codes[:n], minlength=len(names)).tolist() != [int(k) for k in counted]:
            raise DamagedFile(f"{SELECTED}: its first {n} purchases are not the {LABELED}<class> counts of {CURVE} "
                              f"at budget point {r['budget']:g}")
    through = sel.groupby("round").size().cumsum()  # labels bought by the end of each round
    return pd.DataFrame({"round": sel["round"].to_numpy(),
                         "source": sel["source"].to_numpy() if "source" in sel else "",
                         "class": [names[c] for c in codes],
                         "labels": sel["round"].map(through).to_numpy(dtype=np.int64)})


def read_purchases(runs_dir: Path, results: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(every purchase of the runs in ``results`` (its ``run`` column, relative to ``runs_dir``),
    one row per labeled item in purchase order: :data:`PURCHASE_COLUMNS`, with ``class`` the item's
    class name and ``labels`` the labels bought through the round that bought it — the initial set
    is round 0, so its items count as bought together at the start; one line per run left out:
    no ``selected.csv``, or one that is not the purchases its ``curve.csv`` counts)."""
    frames, problems = [], []
    for run, rows in results.groupby("run", sort=True):
        try:
            frames.append(_purchases_of(Path(runs_dir) / run, rows).assign(run=run))
        except (DamagedFile, OSError) as exc:
            problems.append(f"{run}: {exc.strerror if isinstance(exc, OSError) else exc}")
    if not frames:
        return pd.DataFrame(columns=PURCHASE_COLUMNS), problems
    return pd.concat(frames, ignore_index=True)[PURCHASE_COLUMNS], problems


def read_settings(runs_dir: Path, results: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(one row per run in ``results``: ``run`` and ``settings``, the ``strategy`` node of its
    ``config.yaml`` flattened — ``random_fraction``, ``class_balance``, ``sampling``, ``beta``,
    ``params.<name>`` —; one line per run left out: no readable ``config.yaml``, or one whose
    strategy node is not the one the run's ``strategy_id`` was made from (changed since))."""
    import yaml

    rows, problems = [], []
    for run, r in results.groupby("run", sort=True):
        path = Path(runs_dir) / run / "config.yaml"
        try:
            node = (yaml.safe_load(path.read_text()) or {}).get("strategy")
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError) as exc:
            problems.append(f"{run}: config.yaml: {getattr(exc, 'strerror', None) or type(exc).__name__}")
            continue
        sid = str(r["strategy_id"].iloc[0]) if "strategy_id" in r else "unknown"
        if not isinstance(node, dict) or (sid != "unknown" and strategy_id({"strategy": node}) != sid):
            problems.append(f"{run}: config.yaml: its strategy settings are not those of the run (strategy_id {sid})")
            continue
        flat = {k: v for k, v in node.items() if k not in ("name", "params")}
        flat.update({f"params.{k}": v for k, v in sorted((node.get("params") or {}).items())})
        rows.append({"run": run, "settings": flat})
    return pd.DataFrame(rows, columns=["run", "settings"]), problems
