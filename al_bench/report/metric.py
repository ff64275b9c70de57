"""The metric a report compares strategies on: a column of ``curve.csv`` (``--metric``).

``accuracy`` is the default and names nothing: its tables and figures are today's files, with
today's columns. Any other metric (``balanced_accuracy``, ``macro_f1``, ``worst_class_recall``,
or ``accuracy@<head>`` of a head given with ``--heads``) is written beside them under the same
names with the metric before the suffix (``tables/budget_gains.balanced_accuracy.csv``,
``figures/learning_curves.balanced_accuracy.png``); in its tables the columns that hold the
metric's values are named after it (``accuracy_mean`` → ``balanced_accuracy_mean``) and a last
column ``metric`` says it (``verdict.csv`` always has that column). The figures' axes and titles
name it. A metric's full-pool reference is the column ``full_pool_<metric>`` when runs record it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError

__all__ = ["DEFAULT", "METRICS", "HEAD_PREFIX", "check_metric", "metric_label", "suffixed", "stale_outputs",
           "for_metric", "full_pool_column", "runs_lacking"]

DEFAULT = "accuracy"
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "worst_class_recall")  # columns of curve.csv
HEAD_PREFIX = "accuracy@"  # a re-scored head's accuracy (``--heads``), as report.rescore names it
LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
          "worst_class_recall": "worst-class recall"}
# the columns of the tables that hold the metric's values; the others (gain_*, aubc, p_value …)
# are differences or counts, named the same for every metric
VALUE_COLUMNS = ("accuracy_mean", "accuracy_std", "best_accuracy", "runner_up_accuracy", "target_accuracy",
                 "target_accuracy_95")


def check_metric(metric: str, heads: tuple[str, ...] = ()) -> str:
    """``metric`` when it is one of :data:`METRICS` or ``accuracy@<head>`` of a head in ``heads``;
    else a one-line :class:`UserError` naming the choices."""
    if metric in METRICS or (metric.startswith(HEAD_PREFIX) and metric[len(HEAD_PREFIX):] in heads):
        return metric
    choices = list(METRICS) + ([HEAD_PREFIX + h for h in heads] if heads else [HEAD_PREFIX + "<head> with --heads"])
    raise UserError(f"--metric {metric}: not a metric aggregation knows; choose one of {', '.join(choices)}")


def metric_label(metric: str) -> str:
    """How figures and printed lines name ``metric``: ``balanced accuracy``, ``accuracy under <head>``."""
    if metric.startswith(HEAD_PREFIX):
        return f"accuracy under {metric[len(HEAD_PREFIX):]}"
    return LABELS.get(metric, metric)


def suffixed(output: str, metric: str) -> str:
    """Where a report declared as ``output`` writes for ``metric``: ``output`` itself for the
    default, else ``<stem>.<metric><suffix>`` beside it."""
    if metric == DEFAULT:
        return output
    p = Path(output)
    return (p.parent / f"{p.stem}.{metric}{p.suffix}").as_posix()


def stale_outputs(outputs_dir: Path, output: str, keep: str) -> list[Path]:
    """Files of an earlier ``--metric`` run of the report declared as ``output`` (``<stem>.<m><suffix>``
    for a metric ``m`` other than ``keep``), which this aggregation would leave looking current."""
    p = Path(outputs_dir) / output
    if not p.parent.is_dir():
        return []
    out = []
    for f in sorted(p.parent.iterdir()):
        if not (f.is_file() and f.name.startswith(p.stem + ".") and f.name.endswith(p.suffix)):
            continue
        m = f.name[len(p.stem) + 1:len(f.name) - len(p.suffix)]
        if m != keep and m != DEFAULT and (m in METRICS or m.startswith(HEAD_PREFIX)):
            out.append(f)
    return out


def for_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``table`` as written for ``metric``: unchanged for the default; else the value columns
    renamed after the metric and a last column ``metric`` (when it has none)."""
    if metric == DEFAULT:
        return table
    table = table.rename(columns={c: c.replace(DEFAULT, metric, 1) for c in VALUE_COLUMNS if c in table.columns})
    return table if "metric" in table.columns else table.assign(metric=metric)


def full_pool_column(metric: str) -> str:
    """The column that holds ``metric`` for the head trained on the whole pool (``full_pool_accuracy``)."""
    return f"full_pool_{metric}"


def runs_lacking(results: pd.DataFrame, metric: str) -> tuple[int, int]:
    """(runs of ``results`` without a value of ``metric`` at any budget point, runs in all):
    runs written before the column existed, or not re-scored with the head."""
    n_runs = int(results["run"].nunique()) if "run" in results else 1
    if metric not in results:
        return n_runs, n_runs
    if "run" not in results:
        return int(results[metric].isna().all()), 1
    has = results[metric].notna().groupby(results["run"]).any()
    return int((~has).sum()), n_runs
