"""Reports: one module each, registered by name; each turns the results frame into one output.

A report is a pure function of ``tables/results.csv`` as a frame (one row per run × budget
point, the columns of ``curve.csv`` plus timing and ``run``). It declares, when registering:

- ``kind``: ``"table"`` — ``f(results) → DataFrame``, which the runner writes as CSV; or
  ``"figure"`` — ``f(results, path) → path``, which draws and saves it itself;
- ``output``: its file, relative to ``paths.outputs_dir`` (``tables/….csv``, ``figures/….png``);
- ``order``: where it runs among the reports (lower first), so the sequence is stable.

Its first docstring line is what ``python -m al_bench.report --help`` says it writes. Keyword
parameters with a default are its options (``entry.options``): :func:`run_report` passes each
option it is given that the report declares, e.g. ``log_x`` of ``learning_curves``. Adding a
table or a chart means adding a module here; nothing else is edited::

    @register("budget_gains", kind="table", output="tables/budget_gains.csv", order=10)
    def budget_gains(results: pd.DataFrame) -> pd.DataFrame: ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ...registry import Entry, Registry
from ...runfiles import write_csv

__all__ = ["REPORTS", "BASELINE", "KINDS", "register", "ordered", "run_report"]

REPORTS: Registry = Registry("report", package=__name__, required=("kind", "output", "order"))
BASELINE = "random"  # the strategy every other one is compared with
KINDS = {"table": ".csv", "figure": ".png"}  # kind → the suffix of its output


def register(name: str, *, kind: str, output: str, order: int, **meta: Any):
    """Register a report under ``name`` (its module's name) writing ``output``."""
    if kind not in KINDS:
        raise TypeError(f"report {name!r}: kind {kind!r}; choose one of {sorted(KINDS)}")
    if Path(output).is_absolute() or Path(output).suffix != KINDS[kind]:
        raise TypeError(f"report {name!r}: output {output!r} must be a relative path ending in {KINDS[kind]}")
    return REPORTS.register(name, kind=kind, output=output, order=order, **meta)


def ordered() -> list[Entry]:
    """Every registered report in the order it runs: by ``order``, then by name."""
    return sorted(REPORTS.entries(), key=lambda e: (e.order, e.name))


def run_report(entry: Entry, results: pd.DataFrame, outputs_dir: Path,
               **options: Any) -> tuple[Path, pd.DataFrame | None]:
    """Run one report and write its output under ``outputs_dir``: (the file, the table or None).
    Of ``options``, those the report declares are passed to it; the others are ignored."""
    path = Path(outputs_dir) / entry.output
    mine = {k: v for k, v in options.items() if k in entry.options}
    if entry.kind == "table":
        table = entry.obj(results, **mine)
        write_csv(table, path)
        return path, table
    return Path(entry.obj(results, path, **mine)), None
