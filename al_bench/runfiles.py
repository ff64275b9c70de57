"""Run files: one schema, atomic writes, and loading for aggregation.

A run folder holds ``curve.csv`` (one row per budget point), ``selected.csv`` (what each round
bought), ``config.yaml`` (the resolved run config) and ``status.json`` (running / ok / failed,
with the traceback). Every file is written to a temporary name and renamed into place, so a
reader never sees half a file.
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
           "CURVE", "SELECTED", "CONFIG", "STATUS", "IDENTITY"]

CURVE, SELECTED, CONFIG, STATUS = "curve.csv", "selected.csv", "config.yaml", "status.json"
SKIPPED = "skipped.csv"  # dataset items left out (missing or unreadable files), with the reason
TIMING = "timing.csv"  # wall times and peak memory per budget point (not part of the replayable results)
CHECKPOINT = "checkpoint.npz"  # the loop's state after the last completed round, while a run is unfinished
# columns that say which run a row belongs to (the paired comparison keys plus strategy and seed)
IDENTITY = ["dataset", "embedder", "model", "schedule", "strategy", "seed"]


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
