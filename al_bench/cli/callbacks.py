"""Hydra callbacks: check a single run's config before its folder is made; aggregate when a
sweep ends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ..runfiles import free_space_problem, write_problem
from .run import ConfigCheckError, settings_from

__all__ = ["CheckConfig", "AggregateAfterSweep", "SWEEP_FAILURES"]

# one line per batch or job the launcher lost in this sweep (a cancelled or timed-out SLURM job):
# filled by the al_bench sweeper, reported after aggregation, and the sweep then exits 1
SWEEP_FAILURES: list[str] = []


class CheckConfig(Callback):
    """Single runs: check the whole config before Hydra makes the run folder.

    Hydra turns exceptions raised in callbacks into warnings, so a bad config exits here.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from ..run import finished

        try:
            settings, plain = settings_from(config)
        except ConfigCheckError as exc:
            print(f"al_bench: bad config: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        # a finished run is left as it is before Hydra writes its files into the folder, so a
        # read-only (or full) outputs folder still lets the rerun skip it
        run_dir = Path(str(config.hydra.run.dir))
        if finished(run_dir, plain, settings):
            print(f"al_bench: skipping {run_dir}: finished before with the same config and code", file=sys.stderr,
                  flush=True)
            sys.exit(0)
        full = free_space_problem(settings.outputs_dir) or write_problem(settings.outputs_dir)
        if full:  # Hydra's own writes would fail next, with a traceback
            print(f"al_bench: cannot write: {full}; nothing was started", file=sys.stderr, flush=True)
            sys.exit(1)


class AggregateAfterSweep(Callback):
    """Sweeps: aggregate every run under ``paths.outputs_dir``; exit non-zero if any run failed
    or did not finish (what did finish is aggregated all the same)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ..report import aggregate
        from ..run import storage_problem

        try:
            report = aggregate(Path(config.paths.outputs_dir))
        except OSError as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            print(f"al_bench: aggregation cannot write: {problem}", file=sys.stderr, flush=True)
            sys.exit(1)
        print(report.summary(), flush=True)
        for line in SWEEP_FAILURES:
            print(f"  LAUNCHER: {line}", flush=True)
        if report.problems or SWEEP_FAILURES:
            sys.exit(1)
