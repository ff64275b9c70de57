"""Hydra's basic sweeper, plus: every job's config is checked before any job runs or any file
is written, no two jobs may share a run folder, and the sweep's expected run folders are
recorded for aggregation.

Hydra composes each job's config before launching (an unknown key or group option fails
early), but al_bench's value checks (non-increasing budget.fractions, an unknown strategy
parameter, ...) run inside the job. This sweeper runs them for every job up front, so a typo
in the tenth job of a sweep does not surface after nine jobs have run. The list of expected
run folders (``<outputs_dir>/sweeps/<time>.txt``) lets aggregation name runs that never ran.
"""

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser


@dataclass
class AlBenchSweeperConf:
    _target_: str = "hydra_plugins.al_bench_sweeper.al_bench_sweeper.AlBenchSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="al_bench", node=AlBenchSweeperConf, provider="al_bench")


class AlBenchSweeper(BasicSweeper):
    def sweep(self, arguments: List[str]) -> Any:
        params = self._parse_config() + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = [job for batch in self.split_arguments(parser.parse_overrides(params), None) for job in batch]
        self._check_and_record(jobs)
        return super().sweep(arguments)

    def _check_and_record(self, jobs: Sequence[Sequence[str]]) -> None:
        from al_bench.cli.run import ConfigCheckError, settings_from

        problems: Dict[str, List[str]] = {}
        run_dirs, outputs_dir = [], None
        owners: Dict[str, List[str]] = {}
        for overrides in jobs:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                settings_from(cfg)
            except ConfigCheckError as exc:
                problems.setdefault(str(exc), []).append(" ".join(overrides))
                continue
            run_dirs.append(str(Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)))
            owners.setdefault(run_dirs[-1], []).append(" ".join(overrides))
            outputs_dir = Path(cfg.paths.outputs_dir)
        for run_dir, same in owners.items():
            if len(same) > 1:  # one folder, several jobs: the later would overwrite the earlier
                problems.setdefault(f"{len(same)} jobs are the same run ({run_dir}): they compute the same thing; "
                                    "drop the repeated values", []).extend(same)
        if problems:
            lines = [f"{msg}  (in {len(bad)} of {len(jobs)} jobs, e.g. {bad[0]})" for msg, bad in problems.items()]
            raise ConfigCheckError("no job was started:\n" + "\n".join(lines))
        if outputs_dir is not None:
            from al_bench.runfiles import atomic_write_text

            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            # relative to the outputs folder when inside it, so that aggregating from another
            # directory, or a copied outputs folder, finds them
            listed = [os.path.relpath(d, outputs_dir) if _inside(Path(d), outputs_dir) else str(Path(d).resolve())
                      for d in run_dirs]
            atomic_write_text(outputs_dir / "sweeps" / f"{stamp}.txt", "\n".join(listed) + "\n")


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False
