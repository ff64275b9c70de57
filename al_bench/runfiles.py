"""Run files: the one schema of what a run writes, where, and how it is read back.

A run folder (``<outputs_dir>/runs/<run_dir_name>``) holds ``curve.csv`` (one row per budget
point, replayable columns only), ``timing.csv`` (wall times and memory per budget point),
``selected.csv`` (what each round bought), ``config.yaml`` (the resolved run config) and
``status.json`` (running / ok / failed, with the traceback). Every file is written to a
temporary name and renamed into place, so a reader never sees half a file. The run folder's
name is built here alone: Hydra's ``hydra.sweep.subdir`` calls :func:`run_dir_name` through
the ``al_bench_run_dir`` resolver.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

import pandas as pd

__all__ = ["atomic_write", "atomic_write_text", "write_csv", "write_status", "read_status", "RunRecord", "find_runs",
           "run_dir_name", "run_dir_of", "CURVE", "SELECTED", "CONFIG", "STATUS", "SKIPPED", "TIMING",
           "CHECKPOINT", "COMPARE_KEYS", "RUN_KEYS", "TIMING_COLUMNS"]

CURVE, SELECTED, CONFIG, STATUS = "curve.csv", "selected.csv", "config.yaml", "status.json"
SKIPPED = "skipped.csv"  # dataset items left out (missing or unreadable files), with the reason
TIMING = "timing.csv"  # wall times and peak memory per budget point (not part of the replayable results)
CHECKPOINT = "checkpoint.npz"  # the loop's state after the last completed round, while a run is unfinished
# runs are only compared within one group: same data, features, head and budget schedule
COMPARE_KEYS = ["dataset", "embedder", "model", "schedule"]
# columns that say which run a row belongs to: the comparison keys plus strategy and seed
RUN_KEYS = COMPARE_KEYS + ["strategy", "seed"]
# curve-row values that measure the machine rather than the method: kept out of curve.csv
TIMING_COLUMNS = ("selection_seconds", "selection_peak_mb", "train_seconds", "calibration_seconds", "eval_seconds")


def run_dir_name(dataset: str, embedder: str, model: str, schedule: str, strategy: str, seed: int) -> str:
    """The run folder, relative to ``<outputs_dir>/runs``: named by content, not job number.
    Arguments are the config's names (``dataset.name`` …, ``budget.name`` as the schedule)."""
    return f"{dataset}/{embedder}/{model}/{schedule}/{strategy}/seed{seed}"


def run_dir_of(cfg) -> str:
    """:func:`run_dir_name` of a composed config (what ``${al_bench_run_dir:}`` resolves to)."""
    return run_dir_name(cfg.dataset.name, cfg.embedder.name, cfg.model.name, cfg.budget.name, cfg.strategy.name,
                        cfg.seed)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))


def write_status(run_dir: Path, status: str, **fields: object) -> None:
    atomic_write_text(Path(run_dir) / STATUS, json.dumps({"status": status, **fields}, indent=2, default=str) + "\n")


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / STATUS).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"status": "unreadable", "error": str(exc)}


@dataclass(frozen=True)
class RunRecord:
    run_dir: Path
    status: dict

    @property
    def ok(self) -> bool:
        return self.status.get("status") == "ok" and (self.run_dir / CURVE).is_file()


def find_runs(root: Path) -> list[RunRecord]:
    """Every run folder under ``root`` (a folder with a status.json), sorted by path."""
    return [RunRecord(p.parent, read_status(p.parent)) for p in sorted(Path(root).rglob(STATUS))]
