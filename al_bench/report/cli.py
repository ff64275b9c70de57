"""``python -m al_bench.report OUTPUTS_DIR [--runs-dir DIR] [--heads MODEL ...] [--metric METRIC] [--no-log-x]`` (also
``al-bench-aggregate``): aggregate the runs, print the summary (with the verdict per budget
point) and the gains; exit 1 when a run was left out (failed, unfinished, damaged, or a second copy of a run),
2 when OUTPUTS_DIR does not exist."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ..errors import UserError
from . import aggregate
from .metric import DEFAULT, HEAD_PREFIX, METRICS, for_metric
from .reports import ordered

__all__ = ["main"]

GAINS_PRINTED = ["dataset", "strategy", "budget", "n_labeled", "accuracy_mean", "gain_mean", "gain_std", "gain_ci_low",
                 "gain_ci_high", "p_value", "n_seeds"]


def _description() -> str:
    """The help text: what is written, the reports' lines taken from the registry."""
    lines = ["Aggregate run files into tables and figures. Reads files only.", "",
             "writes, under OUTPUTS_DIR:",
             f"  {'tables/results.csv':<30}every curve row of every finished run (long form)",
             f"  {'tables/run_status.csv':<30}every run found, with its status (failed, unfinished, damaged "
                                            "and duplicate runs are listed)"]
    for e in ordered():
        lines.append(f"  {e.output:<30}{(e.obj.__doc__ or e.name).strip().splitlines()[0]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m al_bench.report", description=_description(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outputs_dir", type=Path, help="the paths.outputs_dir of the runs (holds runs/)")
    ap.add_argument("--runs-dir", type=Path, default=None, help="where the run folders are (default OUTPUTS_DIR/runs)")
    ap.add_argument("--heads", nargs="+", default=[], metavar="MODEL",
                    help="also fit these model configs (al_bench/conf/model/, e.g. linear_std) on every run's labeled "
                         "set at each budget point: columns accuracy@MODEL, tables/head_agreement.csv and the "
                         "verdict's sign_change_under (scores are kept under OUTPUTS_DIR/rescored/)")
    ap.add_argument("--metric", default=[DEFAULT], nargs="+", metavar="METRIC",
                    help=f"compare the strategies on this column of curve.csv: {', '.join(METRICS)}, or "
                         f"{HEAD_PREFIX}<head> of a head given with --heads (default {DEFAULT}: the files as always). "
                         "Another metric's tables and figures are written beside the accuracy ones, named "
                         "<report>.<metric>.csv/.png; those of an earlier --metric are removed. Several: each one's files are "
                         "written, and the first is printed")
    ap.add_argument("--log-x", action=argparse.BooleanOptionalAction, default=True,
                    help="figures/learning_curves.png: labels on a log axis (default) or, with --no-log-x, linear")
    args = ap.parse_args(argv)
    if not args.outputs_dir.is_dir():
        print(f"aggregate: no such folder: {args.outputs_dir}", file=sys.stderr)
        return 2
    try:
        report = aggregate(args.outputs_dir, args.runs_dir, heads=tuple(args.heads), metric=args.metric,
                           log_x=args.log_x)
    except UserError as exc:
        print(f"aggregate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only or full disk: one line, not a traceback
        from ..run import storage_problem

        problem = storage_problem(exc)
        if problem is None:
            raise
        print(f"aggregate: cannot write: {problem}", file=sys.stderr)
        return 1
    print(report.summary())
    if not report.results.empty:
        with pd.option_context("display.width", 160, "display.max_rows", 200):
            printed = for_metric(pd.DataFrame(columns=GAINS_PRINTED), report.metric).columns.drop("metric", errors="ignore")
            print(report.gains[printed].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 1 if report.problems else 0
