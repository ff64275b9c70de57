"""Aggregation: run files → tables and figures. Reads files only.

    python -m al_bench.report OUTPUTS_DIR [--runs-dir DIR] [--no-log-x]

:func:`aggregate` reads every run folder (:mod:`.runs`), writes ``tables/run_status.csv`` and
``tables/results.csv``, then runs every registered report (:mod:`.reports`, one module each)
in their declared order. A new table or chart is a new module in ``reports/``. The statistics
(paired t-test, 95 % intervals, AUBC) live in :mod:`.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..runfiles import COMPARE_KEYS, write_csv
from .reports import BASELINE, REPORTS, ordered, register, run_report
from .reports.budget_gains import budget_gains
from .reports.labels_to_match import labels_to_match
from .reports.learning_curves import plot_learning_curves
from .reports.verdict import verdict_summary
from .runs import read_runs

__all__ = ["aggregate", "AggregateReport", "REPORTS", "register", "budget_gains", "labels_to_match",
           "plot_learning_curves", "verdict_summary", "report_options", "BASELINE", "GROUP"]

GROUP = COMPARE_KEYS  # the name earlier code used for the comparison keys


@dataclass
class AggregateReport:
    """What :func:`aggregate` read and wrote. ``gains``, ``to_match`` and ``figure`` are the
    outputs of the ``budget_gains``, ``labels_to_match`` and ``learning_curves`` reports;
    ``tables`` and ``outputs`` hold every report's, by name."""

    outputs_dir: Path
    results: pd.DataFrame
    gains: pd.DataFrame
    to_match: pd.DataFrame
    status: pd.DataFrame
    figure: Path | None
    problems: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """What was read and written, the runs left out, then the verdict per budget point
        (:func:`.reports.verdict.verdict_summary`) when there is one."""
        n_ok = int((self.status["status"] == "ok").sum()) if len(self.status) else 0
        lines = [f"aggregate: {n_ok} finished run(s) under {self.outputs_dir}"]
        if self.figure is not None:
            lines.append(f"  figure: {self.figure}")
        lines.append(f"  tables: {self.outputs_dir / 'tables'}")
        for p in self.problems:
            lines.append(f"  NOT INCLUDED: {p}")
        verdict = verdict_summary(self.tables.get("verdict"))
        if verdict:
            lines.append(verdict)
        return "\n".join(lines)


def report_options() -> dict[str, Any]:
    """Every option a registered report declares, with its default (``log_x`` …)."""
    out: dict[str, Any] = {}
    for e in ordered():
        out.update(e.options)
    return out


def aggregate(outputs_dir: Path, runs_dir: Path | None = None, heads: tuple[str, ...] = (),
              **options: Any) -> AggregateReport:
    """Read every run under ``runs_dir`` (default ``outputs_dir/runs``) and write the tables and
    figures of every registered report under ``outputs_dir``. ``heads``: model configs to
    re-score every run's labeled sets with (:mod:`.rescore`; columns ``accuracy@<head>``).
    ``options`` go to the reports that declare them (e.g. ``log_x=False`` for
    ``learning_curves``); one that no report declares is a ``TypeError``."""
    unknown = sorted(set(options) - set(report_options()))
    if unknown:
        raise TypeError(f"aggregate: no report has the option(s) {unknown}; known: {sorted(report_options())}")
    if heads:  # an unknown head fails before anything is written
        from .rescore import head_config

        for h in heads:
            head_config(h)
    outputs_dir = Path(outputs_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else outputs_dir / "runs"
    runs = read_runs(runs_dir, outputs_dir)
    tables_dir = outputs_dir / "tables"
    write_csv(runs.status, tables_dir / "run_status.csv")
    if runs.results.empty:
        return AggregateReport(outputs_dir, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), runs.status, None,
                               runs.problems)
    if heads:
        from .rescore import rescore

        runs.results, unscored = rescore(runs.results, heads, runs_dir, outputs_dir)
        runs.problems.extend(unscored)
    write_csv(runs.results, tables_dir / "results.csv")
    tables, outputs = {}, {}
    for entry in ordered():
        outputs[entry.name], table = run_report(entry, runs.results, outputs_dir, **options)
        if table is not None:
            tables[entry.name] = table
    return AggregateReport(outputs_dir, runs.results, tables.get("budget_gains", pd.DataFrame()),
                           tables.get("labels_to_match", pd.DataFrame()), runs.status,
                           outputs.get("learning_curves"), runs.problems, tables, outputs)
