"""Aggregation: run files → tables and figures. Reads files only.

    python -m al_bench.report OUTPUTS_DIR [--runs-dir DIR] [--metric METRIC] [--no-log-x]

:func:`aggregate` reads every run folder (:mod:`.runs`), writes ``tables/run_status.csv`` and
``tables/results.csv``, then runs every registered report (:mod:`.reports`, one module each)
in their declared order. A new table or chart is a new module in ``reports/``. The statistics
(paired t-test, 95 % intervals, AUBC) live in :mod:`.stats`; the metric compared, and how its
files are named, in :mod:`.metric`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserError
from ..runfiles import COMPARE_KEYS, write_csv
from .metric import DEFAULT, HEAD_PREFIX, METRICS, check_metric, runs_lacking, stale_outputs
from .reports import BASELINE, REPORTS, ordered, register, run_report, takes
from .reports.budget_gains import budget_gains
from .reports.labels_to_match import labels_to_match
from .reports.learning_curves import plot_learning_curves
from .reports.verdict import verdict_summary
from .runs import read_purchases, read_runs, read_settings

log = logging.getLogger(__name__)

__all__ = ["aggregate", "AggregateReport", "REPORTS", "register", "budget_gains", "labels_to_match",
           "plot_learning_curves", "verdict_summary", "report_options", "BASELINE", "GROUP", "METRICS"]

GROUP = COMPARE_KEYS  # the name earlier code used for the comparison keys


@dataclass
class AggregateReport:
    """What :func:`aggregate` read and wrote. ``gains``, ``to_match`` and ``figure`` are the
    outputs of the ``budget_gains``, ``labels_to_match`` and ``learning_curves`` reports;
    ``tables`` and ``outputs`` hold every report's, by name, for ``metric``; with another metric
    than accuracy, ``accuracy_outputs`` holds the accuracy files written beside them."""

    outputs_dir: Path
    results: pd.DataFrame
    gains: pd.DataFrame
    to_match: pd.DataFrame
    status: pd.DataFrame
    figure: Path | None
    problems: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    metric: str = DEFAULT
    accuracy_outputs: dict[str, Path] = field(default_factory=dict)
    also: dict[str, dict[str, Path]] = field(default_factory=dict)  # further metrics → their files, by report
    removed: list[Path] = field(default_factory=list)  # an earlier aggregation's files, when no run finished

    def summary(self) -> str:
        """What was read and written, the runs left out, then the verdict per budget point
        (:func:`.reports.verdict.verdict_summary`) when there is one."""
        n_ok = int((self.status["status"] == "ok").sum()) if len(self.status) else 0
        lines = [f"aggregate: {n_ok} finished run(s) under {self.outputs_dir}"]
        if self.figure is not None:
            lines.append(f"  figure: {self.figure}")
        lines.append(f"  tables: {self.outputs_dir / 'tables'}")
        if self.removed:
            names = ", ".join(p.name for p in self.removed[:3]) + (", …" if len(self.removed) > 3 else "")
            lines.append(f"  removed {len(self.removed)} table(s)/figure(s) of an earlier aggregation ({names}): "
                         "no finished run to make them from")
        if self.metric != DEFAULT and self.outputs:
            more = "".join(f", then {m}" for m in self.also)
            lines.append(f"  metric: {self.metric}{more} (its tables and figures are named <report>.{self.metric}.csv/.png; "
                         f"the {DEFAULT} ones beside them were written too)")
        for p in self.problems:
            lines.append(f"  NOT INCLUDED: {p}")
        named = self.tables.get("variants", pd.DataFrame(columns=["strategy"]))
        named = named[named["strategy"].astype(str).str.contains("@", regex=False)]
        if len(named):
            lines.append("  variants (tables/variants.csv): " + "; ".join(
                f"{r.strategy} = {r.differs}" for r in named.drop_duplicates("strategy").head(8).itertuples())
                + ("; …" if named["strategy"].nunique() > 8 else ""))
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
              metric: str | tuple[str, ...] | list[str] = DEFAULT, **options: Any) -> AggregateReport:
    """Read every run under ``runs_dir`` (default ``outputs_dir/runs``) and write the tables and
    figures of every registered report under ``outputs_dir``. ``heads``: model configs to
    re-score every run's labeled sets with (:mod:`.rescore`; columns ``accuracy@<head>``).
    ``metric``: the column strategies are compared on (:mod:`.metric`); for another than
    accuracy, the reports that compare write its files beside the accuracy ones, which are
    written as always, and files of an earlier ``metric`` are removed. Several metrics (a
    sequence): the first is the report's ``metric``, the others are written beside it too
    (``also``). A metric that some runs
    lack is a one-line :class:`~al_bench.errors.UserError` before anything is written.
    Every table and figure of an earlier aggregation is removed first (with no finished run,
    only ``run_status.csv`` is left): none of them can look current after this call.
    ``options`` go to the reports that declare them (e.g. ``log_x=False`` for
    ``learning_curves``); one that no report declares is a ``TypeError``."""
    unknown = sorted(set(options) - set(report_options()))
    if unknown:
        raise TypeError(f"aggregate: no report has the option(s) {unknown}; known: {sorted(report_options())}")
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if not metrics:
        raise UserError("--metric: give at least one metric")
    metrics = list(dict.fromkeys(check_metric(m, tuple(heads)) for m in metrics))
    metric, also = metrics[0], [m for m in metrics[1:] if m != DEFAULT]
    if heads:  # an unknown head fails before anything is written
        from .rescore import head_config

        for h in heads:
            head_config(h)
    outputs_dir = Path(outputs_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else outputs_dir / "runs"
    runs = read_runs(runs_dir, outputs_dir)
    if not runs.results.empty:
        for m in metrics:
            if not m.startswith(HEAD_PREFIX):
                _check_metric_present(runs.results, m)
    tables_dir = outputs_dir / "tables"
    if runs.results.empty:
        removed = _clear_outputs(outputs_dir)  # tables of runs since deleted or failed would look current
        write_csv(runs.status, tables_dir / "run_status.csv")
        return AggregateReport(outputs_dir, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), runs.status, None,
                               runs.problems, metric=metric, removed=removed)
    if heads:
        from .rescore import rescore

        runs.results, unscored = rescore(runs.results, heads, runs_dir, outputs_dir)
        runs.problems.extend(unscored)
        for m in metrics:
            _check_metric_present(runs.results, m)
    _clear_outputs(outputs_dir)  # a report that fails half-way leaves files missing, never stale
    write_csv(runs.status, tables_dir / "run_status.csv")
    write_csv(runs.results, tables_dir / "results.csv")
    inputs = {}
    if any(takes(e, "purchases") for e in ordered()):
        inputs["purchases"], unread = read_purchases(runs_dir, runs.results)
        if unread:
            log.warning("aggregate: %d run(s) left out of the tables read from selected.csv (%s): %s%s",
                        len(unread), ", ".join(e.output for e in ordered() if takes(e, "purchases")),
                        "; ".join(unread[:3]), f"; and {len(unread) - 3} more" if len(unread) > 3 else "")
    if any(takes(e, "settings") for e in ordered()):
        inputs["settings"], unread = read_settings(runs_dir, runs.results)
        if unread:
            log.warning("aggregate: %d run(s) without their strategy settings in tables/variants.csv: %s%s",
                        len(unread), "; ".join(unread[:3]), f"; and {len(unread) - 3} more" if len(unread) > 3 else "")
    tables, outputs, accuracy_outputs = {}, {}, {}
    more: dict[str, dict[str, Path]] = {m: {} for m in also}
    for entry in ordered():
        compares = takes(entry, "metric")
        if compares and metric != DEFAULT:  # the accuracy files as always, then the metric's beside them
            accuracy_outputs[entry.name], _ = run_report(entry, runs.results, outputs_dir, inputs, **options)
        outputs[entry.name], table = run_report(entry, runs.results, outputs_dir, inputs, **options,
                                                **({"metric": metric} if compares else {}))
        for m in also if compares else ():
            more[m][entry.name], _ = run_report(entry, runs.results, outputs_dir, inputs, **options, metric=m)
        if table is not None:
            tables[entry.name] = table
    return AggregateReport(outputs_dir, runs.results, tables.get("budget_gains", pd.DataFrame()),
                           tables.get("labels_to_match", pd.DataFrame()), runs.status,
                           outputs.get("learning_curves"), runs.problems, tables, outputs, metric, accuracy_outputs,
                           also=more)


def _clear_outputs(outputs_dir: Path) -> list[Path]:
    """Remove what an earlier aggregation of ``outputs_dir`` wrote: ``tables/results.csv`` and
    every registered report's file, for accuracy and for every other metric (``--metric``,
    ``accuracy@<head>``). Returns the files removed. Run folders and ``run_status.csv`` stay."""
    outputs_dir = Path(outputs_dir)
    found = [outputs_dir / "tables" / "results.csv"]
    for entry in ordered():
        found.append(outputs_dir / entry.output)
        if takes(entry, "metric"):
            found.extend(stale_outputs(outputs_dir, entry.output, DEFAULT))
    removed = []
    for f in found:
        if f.is_file() or f.is_symlink():
            f.unlink()
            removed.append(f)
    return removed


def _check_metric_present(results: pd.DataFrame, metric: str) -> None:
    """A one-line :class:`UserError` when some runs lack ``metric`` (naming it and how many)."""
    lacking, n_runs = runs_lacking(results, metric)
    if lacking:
        why = (f"could not be re-scored with {metric[len(HEAD_PREFIX):]}" if metric.startswith(HEAD_PREFIX)
               else f"have no {metric} column in their curve.csv (written before it existed)")
        raise UserError(f"--metric {metric}: {lacking} of {n_runs} finished run(s) {why}; nothing was written "
                        f"(rerun them, or aggregate them with --metric {DEFAULT})")
