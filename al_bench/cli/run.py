"""The Hydra job (``python -m al_bench``): where Hydra stops. Turns a DictConfig into typed
settings, pins the job's threads and runs it with failure isolation in sweeps."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ..config import RunSettings, parse_settings
from ..errors import UserError

log = logging.getLogger("al_bench")

__all__ = ["ConfigCheckError", "settings_from", "plain_config", "run_job", "pin_threads"]


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
    d = plain_config(cfg)
    try:
        return parse_settings(d), d
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


def job_threads(settings: RunSettings, hc: Any) -> int:
    if settings.threads is not None:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // parallel_jobs(hc))


def run_job(cfg: DictConfig) -> str:
    """Run one job. In a sweep a failed job is recorded (status.json) and the sweep goes on."""
    from ..run import run

    settings, plain = settings_from(cfg)
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    threads = job_threads(settings, hc)
    pin_threads(threads)
    log.info("job threads: %d (torch, FAISS, BLAS)", threads)
    try:
        run(settings, run_dir, plain, progress=_show_progress(), threads=threads)
    except Exception as exc:
        if hc.mode != RunMode.MULTIRUN:
            if isinstance(exc, UserError):
                raise ConfigCheckError(str(exc)) from None
            raise
        log.error("run failed (%s): %s: %s; traceback in %s", run_dir, type(exc).__name__, exc,
                  run_dir / "status.json")
        return "failed"
    return "ok"
