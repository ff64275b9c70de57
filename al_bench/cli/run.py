"""The Hydra job (``python -m al_bench``): where Hydra stops. Turns a DictConfig into typed
settings, pins the job's threads and runs it with failure isolation in sweeps."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ..config import RunSettings, canonical_config, parse_settings
from ..errors import UserError

log = logging.getLogger("al_bench")

__all__ = ["ConfigCheckError", "settings_from", "plain_config", "run_job", "pin_threads", "job_threads", "allocated_cpus"]


class ConfigCheckError(CompactHydraException):
    """Printed by Hydra as its message alone (no traceback), exit code 1."""


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without Hydra's own node, as plain Python values."""
    try:
        d = {k: OmegaConf.to_container(v, resolve=True, throw_on_missing=True) if OmegaConf.is_config(v) else v
             for k, v in cfg.items() if k != "hydra"}
    except Exception as exc:  # e.g. a required value (???) left unset, a broken interpolation
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigCheckError(f"{key}: {msg}" if key else msg) from None
    return d


def settings_from(cfg: DictConfig) -> tuple[RunSettings, dict[str, Any]]:
    """Typed settings and the plain config with each value as its declared type
    (:func:`al_bench.config.canonical_config`: what config.yaml holds and the run ids hash)."""
    d = plain_config(cfg)
    try:
        settings = parse_settings(d)
        return settings, canonical_config(d, settings)
    except UserError as exc:
        raise ConfigCheckError(str(exc)) from None


def _show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def parallel_jobs(hc: Any) -> int:
    """How many jobs the launcher runs at once on this machine (joblib's n_jobs; else 1)."""
    n = OmegaConf.select(hc, "launcher.n_jobs", default=None) if "joblib" in str(hc.launcher.get("_target_", "")) else None
    if n is None:
        return 1
    n = int(n)
    return max(1, n if n > 0 else (os.cpu_count() or 1) + 1 + n)  # joblib: -1 = all cores


def pin_threads(n: int) -> None:
    """Use ``n`` threads in torch, FAISS and BLAS/OpenMP for the rest of this process.

    threadpoolctl only reaches libraries already loaded, and SciPy ships its own OpenBLAS that
    loads on first use (scikit-learn's PCA): the environment variables cover libraries loaded
    later, and SciPy's linear algebra is loaded here so the limit reaches it too.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import faiss
    import scipy.linalg  # noqa: F401 - load SciPy's BLAS before limiting
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    threadpool_limits(n)


# CPUs a scheduler gave this job, in the order trusted: a node that does not bind CPUs to the
# job still shows all its cores through sched_getaffinity, so the allocation wins when set
ALLOCATED_CPU_VARS = ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS", "LSB_DJOB_NUMPROC")


def allocated_cpus() -> int | None:
    """The CPUs a batch scheduler allocated to this job (SLURM, PBS/Torque, SGE, LSF), if set."""
    for var in ALLOCATED_CPU_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs since boot (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields[:8])


def busy_cores(sample_s: float = 0.25) -> float | None:
    """How many of the machine's CPUs other work keeps busy now: the non-idle share of all
    CPUs over ``sample_s`` seconds (this process sleeps meanwhile) times the CPU count."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(sample_s)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return None
    idle_share = (second[0] - first[0]) / (second[1] - first[1])
    return max(0.0, 1.0 - idle_share) * (os.cpu_count() or 1)


def job_threads(settings: RunSettings, hc: Any) -> int:
    """``threads``, or for ``auto``: the scheduler's allocation if it gave one, else the usable
    cores shared among the launcher's parallel jobs — never fewer because other work keeps
    cores busy now: what a run computes may depend on its thread count in the last bits (a
    ResNet head, DINOv2 and timm embedders, the selection kernels' distance products), so the
    count must be the same whenever the same config runs on the same machine. A busy machine
    gets a warning instead: threads beyond the free cores make a run many times slower, not a
    little (OpenMP and BLAS threads wait for each other at every parallel operation, and one of
    them descheduled in favour of another process holds all the others up; bench/threads_busy.py)."""
    if settings.threads is not None:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    allocated = allocated_cpus()
    per_job = max(1, cores // parallel_jobs(hc))
    if allocated is not None:
        return max(1, min(per_job, allocated))
    busy = busy_cores()
    if busy is not None:  # cores of the whole machine less what is busy, within what we may use
        free = int((os.cpu_count() or cores) - busy + 0.5)
        if free < per_job:
            log.warning("threads=auto: %.1f of %d CPUs busy with other work, so this run's %d threads may make it "
                        "several times slower; threads=%d (or fewer) would run faster here",
                        busy, os.cpu_count() or cores, per_job, max(1, free))
    return per_job


def _say(line: str) -> None:
    """The one line an error ends with, on stderr (Hydra's job log may be on a full disk)."""
    print(f"al_bench: {line}", file=sys.stderr, flush=True)


def _catch_sigterm() -> None:
    """SIGTERM (a scheduler's cancel or time limit, ``kill``) ends the run like Ctrl-C does:
    status ``interrupted``, checkpoint kept, exit 143; neither cuts a file write in half."""
    from ..interrupts import catch_signals

    catch_signals()


def _forget_new_folder(run_dir: Path, outputs_dir: Path) -> None:
    """Remove a run folder this job made (and its empty parents up to ``outputs_dir``)."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    stop = Path(os.path.abspath(outputs_dir))
    parent = Path(os.path.abspath(run_dir)).parent
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def run_job(cfg: DictConfig) -> str:
    """Run one job. In a sweep a failed job is recorded (status.json) and the sweep goes on.

    A single run that fails ends the process with one line on stderr: exit 1 for bad config or
    data (and the run folder it made is removed: nothing is written) or a full / read-only disk
    (status ``failed: <cause> (<path>)``); a signal ends any run with status ``interrupted``, the
    checkpoint kept, exit 128 + signal (130 for Ctrl-C, 143 for SIGTERM).
    """
    from ..run import Interrupted, RunLocked, run, signal_name, storage_problem

    _catch_sigterm()
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        settings, plain = settings_from(cfg)
    except ConfigCheckError as exc:
        _say(f"bad config: {exc}")
        sys.exit(1)
    fresh = not (run_dir / "status.json").exists()
    try:
        threads = job_threads(settings, hc)
        pin_threads(threads)
        log.info("job threads: %d (torch, FAISS, BLAS)", threads)
        run(settings, run_dir, plain, progress=_show_progress(), threads=threads)
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else 2
        _say(f"interrupted by {signal_name(signum)}: run folder {run_dir} (status 'interrupted'; rerun the same "
             "command to resume from its checkpoint)")
        sys.exit(128 + signum)
    except RunLocked as exc:  # the other process owns the folder and its status: touch neither
        if multirun:
            log.error("run not started: %s", exc)
            return "busy"
        _say(str(exc))
        sys.exit(1)
    except Exception as exc:
        problem = storage_problem(exc)
        if multirun:
            log.error("run failed (%s): %s; status in %s", run_dir,
                      f"cannot write: {problem}" if problem else f"{type(exc).__name__}: {exc}", run_dir / "status.json")
            return "failed"
        if problem:
            _say(f"cannot write: {problem}; run folder {run_dir}")
            sys.exit(1)
        if isinstance(exc, UserError):
            if fresh and not (run_dir / "checkpoint.npz").exists():
                _forget_new_folder(run_dir, settings.outputs_dir)
            _say(str(exc))
            sys.exit(1)
        raise
    finally:
        if multirun:
            try:
                sweep_progress(settings.outputs_dir, run_dir)
            except OSError:  # progress is a courtesy: never the reason a job fails
                pass
    return "ok"


def sweep_progress(outputs_dir: Path, run_dir: Path) -> str | None:
    """Log (and return) "sweep: k of N runs finished, elapsed …, about … left" for the sweep that
    announced ``run_dir`` (its listing in ``outputs_dir/sweeps``); None outside a listed sweep.
    Finished means ok, failed or interrupted; the estimate assumes the remaining runs take as long
    as the finished ones did on average, with as many at once."""
    import time

    from ..report.runs import listed_runs
    from ..runfiles import read_status

    target = Path(run_dir).resolve()
    listings = sorted((Path(outputs_dir) / "sweeps").glob("*.txt"), key=lambda f: f.stat().st_mtime)
    for listing in reversed(listings):
        runs = listed_runs(listing, outputs_dir)
        if target in runs:
            break
    else:
        return None
    statuses = [str(read_status(d).get("status", "")) for d in runs if (d / "status.json").is_file()]
    done = sum(s in ("ok", "interrupted") or s.startswith("failed") for s in statuses)
    elapsed = time.time() - listing.stat().st_mtime
    left = elapsed / done * (len(runs) - done) if done else float("nan")
    line = (f"sweep: {done} of {len(runs)} runs finished, elapsed {_duration(elapsed)}"
            + (f", about {_duration(left)} left" if done < len(runs) and left == left else ""))
    log.info(line)
    return line


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
