"""Hydra callbacks: check a single run's config before its folder is made; aggregate when a
sweep ends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .run import ConfigCheckError, settings_from

__all__ = ["CheckConfig", "AggregateAfterSweep"]


class CheckConfig(Callback):
    """Single runs: check the whole config before Hydra makes the run folder.

    Hydra turns exceptions raised in callbacks into warnings, so a bad config exits here.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            settings_from(config)
        except ConfigCheckError as exc:
            print(f"al_bench: bad config: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)


class AggregateAfterSweep(Callback):
    """Sweeps: aggregate every run under ``paths.outputs_dir``; exit non-zero if any run failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ..report import aggregate

        report = aggregate(Path(config.paths.outputs_dir))
        print(report.summary(), flush=True)
        if report.problems:
            sys.exit(1)
