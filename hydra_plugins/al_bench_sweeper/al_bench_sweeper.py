"""Hydra's basic sweeper, plus: every job's config is checked before any job runs or any file
is written, no two jobs may share a run folder, runs that finished before are left out at
submission, the sweep's expected run folders are recorded for aggregation, and a job that a
launcher loses (a cancelled or timed-out SLURM job) does not stop the sweep from aggregating.

Hydra composes each job's config before launching (an unknown key or group option fails
early), but al_bench's value checks (non-increasing budget.fractions, an unknown strategy
parameter, ...) run inside the job. This sweeper runs them for every job up front, so a typo
in the tenth job of a sweep does not surface after nine jobs have run. The list of expected
run folders (``<outputs_dir>/sweeps/<time>.txt``) lets aggregation name runs that never ran.

Finished runs (same config, code and data: :func:`al_bench.run.finished`) are not submitted
at all: a resubmitted SLURM sweep does not queue jobs that would only skip themselves, and a
sweep whose runs all finished reads nothing but their status files (so it works on a
read-only outputs folder up to aggregation, which says in one line that it cannot write).
"""

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from omegaconf import OmegaConf

log = logging.getLogger("al_bench")


@dataclass
class AlBenchSweeperConf:
    _target_: str = "hydra_plugins.al_bench_sweeper.al_bench_sweeper.AlBenchSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="al_bench", node=AlBenchSweeperConf, provider="al_bench")


class AlBenchSweeper(BasicSweeper):
    def sweep(self, arguments: List[str]) -> Any:
        from al_bench.cli.callbacks import SWEEP_FAILURES
        from al_bench.run import storage_problem

        params = self._parse_config() + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = [job for batch in self.split_arguments(parser.parse_overrides(params), None) for job in batch]
        todo = self._check_and_record(jobs)
        if len(todo) < len(jobs):
            log.info("sweep: %d of %d runs finished before with the same config, code and data: not submitted",
                     len(jobs) - len(todo), len(jobs))
        SWEEP_FAILURES.clear()
        if not todo:
            return []
        self._save_sweep_config()
        size = self.max_batch_size or len(todo)
        returns = []
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            self.validate_batch_is_legal(batch)
            try:
                results = self.launcher.launch(batch, initial_job_idx=start)
            except Exception as exc:  # noqa: BLE001 - e.g. submitit's UncompletedJobError for a cancelled job
                problem = storage_problem(exc)  # Hydra's own files of a job on a disk that filled up
                SWEEP_FAILURES.append(f"jobs #{start}-#{start + len(batch) - 1}: the launcher stopped: " + (
                    f"cannot write: {problem}" if problem else
                    f"{type(exc).__name__}: {_first_lines(exc)}"))
                log.error("sweep: %s; aggregating what finished", SWEEP_FAILURES[-1])
                continue
            for overrides, result in zip(batch, results):
                if result.status == JobStatus.FAILED:  # an error outside the run (which records its own)
                    err = result._return_value
                    SWEEP_FAILURES.append(f"job {' '.join(overrides)}: {type(err).__name__}: {_first_lines(err)}")
                    log.error("sweep: %s", SWEEP_FAILURES[-1])
            returns.append(results)
        return returns

    def _check_free_space(self, outputs_dir: Path) -> None:
        """A disk too full for Hydra's own files of the first job: one line, no job started."""
        from al_bench.cli.run import ConfigCheckError
        from al_bench.runfiles import free_space_problem

        full = free_space_problem(outputs_dir)
        if full:
            raise ConfigCheckError(f"cannot write: {full}; no job was started")

    def _save_sweep_config(self) -> None:
        """Hydra's ``multirun.yaml`` in the sweep folder; a full or read-only disk fails here in
        one line, before any job starts."""
        from al_bench.cli.run import ConfigCheckError
        from al_bench.run import storage_problem

        sweep_dir = Path(self.config.hydra.sweep.dir)
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        except OSError as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            raise ConfigCheckError(f"cannot write: {problem}; no job was started") from None

    def _check_and_record(self, jobs: Sequence[Sequence[str]]) -> List[Sequence[str]]:
        """Check every job's config, refuse two jobs in one folder, list the sweep's run folders;
        return the jobs whose runs have not finished before."""
        from al_bench.cli.run import ConfigCheckError, settings_from
        from al_bench.run import finished, storage_problem

        problems: Dict[str, List[str]] = {}
        run_dirs, outputs_dir, todo = [], None, []
        owners: Dict[str, List[str]] = {}
        checked = []
        for overrides in jobs:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                settings, plain = settings_from(cfg)
            except ConfigCheckError as exc:
                problems.setdefault(str(exc), []).append(" ".join(overrides))
                continue
            run_dirs.append(str(Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)))
            owners.setdefault(run_dirs[-1], []).append(" ".join(overrides))
            outputs_dir = Path(cfg.paths.outputs_dir)
            checked.append((overrides, Path(run_dirs[-1]), settings, plain))
        for run_dir, same in owners.items():
            if len(same) > 1:  # one folder, several jobs: the later would overwrite the earlier
                problems.setdefault(f"{len(same)} jobs are the same run ({run_dir}): they compute the same thing; "
                                    "drop the repeated values", []).extend(same)
        if problems:
            lines = [f"{msg}  (in {len(bad)} of {len(jobs)} jobs, e.g. {bad[0]})" for msg, bad in problems.items()]
            raise ConfigCheckError("no job was started:\n" + "\n".join(lines))
        data_fps: Dict[str, str] = {}  # one dataset load per distinct dataset, not per job
        for overrides, run_dir, settings, plain in checked:
            if not finished(run_dir, plain, settings, data_fps=data_fps):
                todo.append(overrides)
        if todo and outputs_dir is not None:
            self._check_free_space(outputs_dir)
        if outputs_dir is not None:
            from al_bench.runfiles import atomic_write_text

            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            # relative to the outputs folder when inside it, so that aggregating from another
            # directory, or a copied outputs folder, finds them
            listed = [os.path.relpath(d, outputs_dir) if _inside(Path(d), outputs_dir) else str(Path(d).resolve())
                      for d in run_dirs]
            try:
                atomic_write_text(outputs_dir / "sweeps" / f"{stamp}.txt", "\n".join(listed) + "\n")
            except OSError as exc:
                problem = storage_problem(exc)
                if problem is None:
                    raise
                if todo:  # the jobs could not write either: say so before any starts
                    raise ConfigCheckError(f"cannot write: {problem}; no job was started") from None
                log.warning("sweep: could not record the sweep's run list: %s", problem)
        return todo


def _first_lines(exc: BaseException, n: int = 2) -> str:
    """The error's first ``n`` lines on one line (submitit's UncompletedJobError says the job's
    state, e.g. ``CANCELLED``, on its second line)."""
    return " ".join(line.strip() for line in str(exc).strip().splitlines()[:n])[:400]


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False
