"""Reports: one module each, registered by name; each turns the results frame into one output.

A report is a pure function of ``tables/results.csv`` as a frame (one row per run × budget
point, the columns of ``curve.csv`` plus timing and ``run``). It declares, when registering:

- ``kind``: ``"table"`` — ``f(results) → DataFrame``, which the runner writes as CSV; or
  ``"figure"`` — ``f(results, path) → path``, which draws and saves it itself;
- ``output``: its file, relative to ``paths.outputs_dir`` (``tables/….csv``, ``figures/….png``);
- ``order``: where it runs among the reports (lower first), so the sequence is stable.

Its first docstring line is what ``python -m al_bench.report --help`` says it writes. Keyword
parameters with a default are its options (``entry.options``): :func:`run_report` passes each
option it is given that the report declares, e.g. ``log_x`` of ``learning_curves``. A report
that declares ``metric`` compares strategies on that column (:mod:`..metric`): for a metric
other than accuracy it writes beside its declared file, ``<stem>.<metric><suffix>``. A report
may also take what aggregation reads from the run folders besides the results (:data:`INPUTS`:
``purchases``, every run's ``selected.csv`` in long form, :func:`..runs.read_purchases`;
``settings``, every run's strategy settings, :func:`..runs.read_settings`); those are not
options. Adding a table or a chart means adding a module here; nothing else is edited::

    @register("budget_gains", kind="table", output="tables/budget_gains.csv", order=10)
    def budget_gains(results: pd.DataFrame) -> pd.DataFrame: ...
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ...registry import Entry, Registry
from ...runfiles import write_csv
from ..metric import DEFAULT, suffixed

__all__ = ["REPORTS", "BASELINE", "KINDS", "INPUTS", "register", "ordered", "run_report", "output_of", "takes"]

# what a report may take besides the results frame, read from the run folders by aggregation
INPUTS = ("purchases", "settings")
REPORTS: Registry = Registry("report", package=__name__, required=("kind", "output", "order"), injected=INPUTS)
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


def takes(entry: Entry, name: str) -> bool:
    """Whether the report takes the input or option ``name`` (``metric``, ``purchases`` …)."""
    return name in entry.options or name in inspect.signature(entry.obj).parameters


def output_of(entry: Entry, metric: str = DEFAULT) -> str:
    """The file the report writes for ``metric``, relative to the outputs folder: its declared
    ``output``, with the metric before the suffix when it compares on one and it is not accuracy."""
    return suffixed(entry.output, metric) if takes(entry, "metric") else entry.output


def run_report(entry: Entry, results: pd.DataFrame, outputs_dir: Path, inputs: Mapping[str, Any] | None = None,
               **options: Any) -> tuple[Path, pd.DataFrame | None]:
    """Run one report and write its output under ``outputs_dir``: (the file, the table or None).
    Of ``options``, those the report declares are passed to it; the others are ignored; so are
    the ``inputs`` (:data:`INPUTS`) it does not take. With ``metric`` (not accuracy) the file is
    :func:`output_of` that metric."""
    path = Path(outputs_dir) / output_of(entry, options.get("metric", DEFAULT))
    mine = {k: v for k, v in options.items() if k in entry.options}
    mine.update({k: v for k, v in (inputs or {}).items() if k in INPUTS and takes(entry, k)})
    if entry.kind == "table":
        table = entry.obj(results, **mine)
        write_csv(table, path)
        return path, table
    return Path(entry.obj(results, path, **mine)), None
