"""One run: dataset → split → embeddings → loop → run files. No Hydra below this line."""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import logging
import os
import platform
import signal
import time
import traceback
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from . import __version__
from .config import RunSettings
from .data import inject_near_duplicates, load_dataset, make_split
from .data.long_tail import long_tail_pool, restrict_classes
from .embedders import embed
from .errors import UserError
from .heads import HEADS
from .interrupts import Interrupted, signal_name
from .loop import Checkpoint, LoopResult, LoopSettings, initial_set, plan_budget, run_loop
from .loop.oracle import thin_test_classes
from .runfiles import (
    CHECKPOINT,
    CONFIG,
    CURVE,
    DECISIONS,
    LOCK,
    SELECTED,
    SKIPPED,
    STATUS,
    TIMING,
    TIMING_COLUMNS,
    atomic_write_text,
    checksum_problem,
    comparison_id,
    config_id,
    file_checksums,
    read_status,
    run_dir_of,
    strategy_id,
    write_csv,
    write_status,
)

log = logging.getLogger(__name__)

__all__ = ["run", "run_dir_name", "config_fingerprint", "code_version", "git_commit", "Interrupted", "RunLocked",
           "finished", "storage_problem", "signal_name"]

# write failures that are the disk's, not a bug: reported in one line with the path
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


class RunLocked(Exception):
    """Another process is running this run folder now (it holds the folder's lock)."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir/.lock`` (an exclusive ``flock``) while a run writes its folder, so two
    processes started on the same config cannot both write it: the second raises
    :class:`RunLocked` naming the holder. The kernel drops the lock when the holder exits, even
    on ``kill -9``, so a lock is never stale. A file system without locks (some network mounts)
    gets a warning and the run goes on unlocked."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    path = Path(run_dir) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip()
            raise RunLocked(f"another al_bench process is running {run_dir}" + (f" ({holder})" if holder else "")
                            + ": wait for it to end, or stop it and rerun to resume") from None
        except OSError as exc:
            log.warning("cannot lock %s (%s): running without a lock", path, exc)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {platform.node()}, since {_now()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def storage_problem(exc: BaseException) -> str | None:
    """``"no space left on device (<path>)"`` for a write failure caused by the disk or its
    permissions (full, read-only, no access, quota), else None."""
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    path = exc.filename2 or exc.filename
    if path is not None:
        path = os.fsdecode(path)
        name = os.path.basename(path)
        if name.startswith(".") and name.endswith(".tmp"):  # atomic_write's temporary: name the real file
            path = os.path.join(os.path.dirname(path), name[1:].rsplit(".", 2)[0])
    what = (exc.strerror or os.strerror(exc.errno)).lower()
    return f"{what} ({path})" if path else what


def _signum(exc: BaseException) -> int:
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


def finished(run_dir: Path, config: Mapping[str, Any], s: RunSettings,
             data_fps: dict[str, str] | None = None) -> bool:
    """Whether ``run_dir`` holds a finished run of this config and code on the same data (only
    reads). The data is loaded (to fingerprint it) only when config and code match: a file
    replaced under the same ``dataset.path`` must not leave a stale result standing.
    ``data_fps`` memoizes the fingerprints across calls (a sweep checks many runs of one dataset)."""
    run_dir = Path(run_dir)
    try:
        if not (run_dir / STATUS).is_file():
            return False
    except OSError:
        return False
    old = read_status(run_dir)
    if not (old.get("status") == "ok" and old.get("fingerprint") == config_fingerprint(dict(config))
            and (run_dir / CURVE).is_file()):
        return False
    damaged = checksum_problem(run_dir, old)
    if damaged:  # a file cut or changed since the run wrote it: the run is done again, not skipped
        log.info("%s: %s: running it again", run_dir, damaged)
        return False
    key = json.dumps([s.dataset.name, str(s.data_dir), s.dataset.options], sort_keys=True, default=str)
    if data_fps is None:
        data_fps = {}
    if key not in data_fps:
        data_fps[key] = data_fingerprint(s)
    if old.get("data_fingerprint") != data_fps[key]:
        log.info("%s: the data changed since it ran (same config and code): running it again", run_dir)
        return False
    return True


def data_fingerprint(s: RunSettings) -> str:
    """The sha256 of the dataset the run reads (:meth:`ImageDataset.fingerprint`)."""
    return load_dataset(s.dataset.name, s.data_dir, **s.dataset.options).fingerprint()


def run_dir_name(config: Mapping[str, Any]) -> str:
    """The run folder of a resolved config, relative to ``<outputs_dir>/runs`` (see
    :func:`al_bench.runfiles.run_dir_name`): the same name Hydra gives the run."""
    return run_dir_of(config)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """sha256 of the resolved config (``paths`` left out: where files go does not change them)
    and the code version (:func:`code_version`): what decides whether a finished run is reused.
    ``threads`` is left out too: thread counts move float sums by ~1e-7, not the method."""
    body = {k: v for k, v in dict(config).items() if k not in ("paths", "threads")}
    return hashlib.sha256(json.dumps({"config": body, "code": code_version()}, sort_keys=True,
                                     default=str).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<version>+<sha256 of the package's .py sources, 12 hex>``: changes with any code edit,
    committed or not, unlike a git commit id."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The checkout's commit id (with ``-dirty`` when the package has uncommitted changes), or
    ``unknown`` outside a git checkout."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def run(s: RunSettings, run_dir: Path, config: Mapping[str, Any] | None = None,
        progress: bool = False, threads: int | None = None) -> LoopResult | None:
    """Execute one run and write its files into ``run_dir``; status.json says how it ended.

    A folder that already holds a finished run with the same fingerprint (config and code) is
    left as it is (returns None); a killed run with a checkpoint of the same fingerprint
    continues from its last completed round; anything else starts over. The folder is locked
    while the run writes it (:func:`run_lock`): a second process on the same config raises
    :class:`RunLocked` and writes nothing.
    """
    run_dir = Path(run_dir)
    config = dict(config) if config is not None else {}
    fp = config_fingerprint(config)
    data_fps: dict[str, str] = {}  # the data is fingerprinted at most once for both checks below
    if finished(run_dir, config, s, data_fps):
        log.info("skipping %s: finished before with the same config and code (fingerprint %s)", run_dir, fp[:12])
        return None
    with ExitStack() as held:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            held.enter_context(run_lock(run_dir))
        except OSError as exc:  # a read-only or full disk: say so in status.json if it can be written
            problem = storage_problem(exc)
            _last_status(run_dir, f"failed: {problem}" if problem else "failed", finished=_now(),
                         error=f"{type(exc).__name__}: {exc}", fingerprint=fp)
            raise
        if finished(run_dir, config, s, data_fps):  # the process that held the lock before may have finished it
            log.info("skipping %s: finished by another process with the same config and code", run_dir)
            return None
        return _locked_run(s, run_dir, config, progress, threads, fp)


def _locked_run(s: RunSettings, run_dir: Path, config: dict[str, Any], progress: bool, threads: int | None,
                fp: str) -> LoopResult:
    import yaml

    started = _now()
    t0 = time.perf_counter()
    ckpt = Checkpoint(run_dir / CHECKPOINT, fp)
    try:
        for stale in (CURVE, SELECTED, SKIPPED, TIMING, DECISIONS):  # a rerun must not leave old results behind
            (run_dir / stale).unlink(missing_ok=True)
        write_status(run_dir, "running", started=started, host=platform.node(), fingerprint=fp, threads=threads)
        if config:
            atomic_write_text(run_dir / CONFIG, yaml.safe_dump(config, sort_keys=False))
        result, data_fp = _run(s, run_dir, progress, fp, ckpt, config)
        ckpt.remove()
        # the sha256 of every file written: a reader tells a cut or changed file from the run's own
        write_status(run_dir, "ok", started=started, finished=_now(), seconds=round(time.perf_counter() - t0, 3),
                     n_points=len(result.curve), fingerprint=fp, data_fingerprint=data_fp, threads=threads,
                     host=platform.node(), sha256=file_checksums(run_dir))
    except (KeyboardInterrupt, Interrupted) as exc:
        # the checkpoint of the last completed round stays: rerunning the command resumes there
        _last_status(run_dir, "interrupted", started=started, finished=_now(), signal=signal_name(_signum(exc)),
                     checkpoint=(run_dir / CHECKPOINT).is_file(), fingerprint=fp)
        raise
    except BaseException as exc:
        problem = storage_problem(exc)
        _last_status(run_dir, f"failed: {problem}" if problem else "failed", started=started, finished=_now(),
                     error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(), fingerprint=fp)
        raise
    return result


def _last_status(run_dir: Path, status: str, **fields: Any) -> None:
    """Write the final status if the disk still lets us; a failure here must not hide the cause."""
    try:
        write_status(run_dir, status, **fields)
    except OSError as exc:
        log.warning("could not record status %r in %s: %s", status, run_dir, storage_problem(exc) or exc)


def without_distractors(split: Any, labels: np.ndarray, class_names: Sequence[str], distractors: Sequence[str]) -> Any:
    """``split`` with the items of the ``distractors`` classes (names) left out of its test and
    calibration splits: a pool holding inputs the model will not serve (EPIG's setting)."""
    if not distractors:
        return split
    names = [str(c) for c in class_names]
    unknown = [c for c in distractors if c not in names]
    if unknown:
        raise UserError(f"unknown class(es) {unknown}; the classes are {names}", key="dataset.distractors")
    if len(distractors) >= len(names):
        raise UserError("every class is a distractor: the test split would be empty", key="dataset.distractors")
    codes = [names.index(c) for c in distractors]
    return replace(split, test=split.test[~np.isin(labels[split.test], codes)],
                   calibration=split.calibration[~np.isin(labels[split.calibration], codes)])


def run_split(s: RunSettings, ds: Any) -> tuple[Any, Any]:
    """(dataset, split) of a run with settings ``s`` on the loaded dataset ``ds``: the seed's split,
    its pool subsampled to ``dataset.imbalance``'s long tail (a preset with fewer classes drops the
    others first), without ``dataset.distractors`` in its test and calibration splits, then the
    near-duplicates the config asks for (which add items to the dataset)."""
    imb = s.dataset.imbalance
    ds = restrict_classes(ds, imb.n_classes(ds.n_classes))  # a preset with fewer classes: the others leave
    split = make_split(ds.labels, s.seed, s.dataset.test_fraction, s.dataset.calibration_fraction, ds.is_test)
    split = long_tail_pool(split, ds.labels, imb, ds.class_names, s.seed)
    split = without_distractors(split, ds.labels, ds.class_names, s.dataset.distractors)
    return inject_near_duplicates(ds, split, s.dataset.near_duplicates, s.dataset.near_duplicate_copies,
                                  s.dataset.near_duplicate_noise, s.seed)


def run_embedding(s: RunSettings, ds: Any, split: Any) -> Any:
    """The embedding of a run (cached under ``s.data_dir``), fitted on the split's pool where the
    embedder learns anything."""
    return embed(ds.images, split.pool, s.embedder.name, ds.fingerprint(), s.data_dir, s.seed, **s.embedder.options)


def _run(s: RunSettings, run_dir: Path, progress: bool, fingerprint: str, ckpt: Checkpoint,
         config: Mapping[str, Any]) -> tuple[LoopResult, str]:
    """(the loop's result, the data fingerprint), after writing the run files."""
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    data_fp = ds.fingerprint()
    ckpt.fingerprint = f"{fingerprint}:{data_fp}"  # a checkpoint resumes only on the same data
    ds, split = run_split(s, ds)
    plan = plan_budget(len(split.pool), s.budget.fractions, s.budget.initial, s.budget.batch_size,
                       per_class=s.budget.per_class, n_classes=len(ds.class_names),
                       initial_strategy=s.budget.initial_strategy)
    log.info("split: pool %d, test %d, calibration %d; budget points %s, initial %d (%s), batch %d, %d rounds",
             len(split.pool), len(split.test), len(split.calibration), list(plan.points), plan.initial,
             plan.initial_strategy, plan.batch_size, plan.n_rounds)
    thin = thin_test_classes(ds.labels[split.test], tuple(ds.class_names))
    if thin:
        log.warning(thin)
    emb = run_embedding(s, ds, split)
    head = HEADS.entry(s.model.name)
    model_inputs = None
    if head.inputs == "images":  # end to end on the images; the embedding still serves distances
        from .data.images import batch_array

        model_inputs = batch_array(ds.images, np.arange(len(ds.labels)), s.model.settings.image_size)

    def make_head(n_features: int, n_classes: int, seed: int):
        return head.obj(n_features, n_classes, s.model.settings, seed)

    # a head whose settings name a cheaper fit for the rounds between budget points uses it there
    selection_settings = getattr(s.model.settings, "for_selection", None)

    def make_selection_head(n_features: int, n_classes: int, seed: int):
        return head.obj(n_features, n_classes, selection_settings(), seed)

    loop_settings = LoopSettings(
        strategy=s.strategy.name, seed=s.seed, random_fraction=s.strategy.random_fraction,
        params=dict(s.strategy.params), sampling=s.strategy.sampling, beta=s.strategy.beta,
        request=s.strategy.request, class_balance=s.strategy.class_balance, weighting=s.model.weighting,
        temperature_scaling=s.model.temperature_scaling,
        ece_bins=s.model.ece_bins, progress=progress, make_head=make_head,
        make_selection_head=make_selection_head if selection_settings is not None else None,
    )
    init = initial_set(plan, emb.features[split.pool], len(ds.class_names), s.seed)  # never reads labels
    result = run_loop(emb.features, ds.labels, split, ds.class_names, plan, init, loop_settings, model_inputs, ckpt)

    if ds.skipped:
        write_csv(pd.DataFrame(list(ds.skipped), columns=["id", "reason"]), run_dir / SKIPPED)
    # dataset and embedder are the resolved ones (`auto` names what it chose); the config's
    # names sit beside them
    ident = {"dataset": ds.name, "embedder": emb.embedder, "model": s.model.name, "schedule": s.budget.name,
             "strategy": s.strategy.name, "seed": s.seed}
    provenance = {"pool_size": len(split.pool), "test_size": len(split.test),
                  "calibration_size": len(split.calibration), "split_hash": split.fingerprint()[:16],
                  "embedding_checksum": emb.checksum[:16], "al_bench_version": __version__,
                  "code_version": code_version(), "git_commit": git_commit(), "config_fingerprint": fingerprint[:16],
                  "dataset_config": s.dataset.name, "embedder_config": s.embedder.name,
                  "n_skipped_items": len(ds.skipped),
                  # who is compared with whom: same comparison_id = same everything but strategy and seed;
                  # strategy_id tells apart variants of one strategy name (other parameters)
                  "comparison_id": comparison_id(config), "strategy_id": strategy_id(config),
                  "config_id": config_id(config)}
    # curve.csv holds what replays byte for byte; wall times and memory go to timing.csv
    rows = [{**ident, **{k: v for k, v in row.items() if k not in TIMING_COLUMNS}, **provenance}
            for row in result.curve]
    curve = pd.DataFrame(rows)
    timing = pd.DataFrame([{**ident, "budget": row["budget"], **{k: row[k] for k in TIMING_COLUMNS}}
                           for row in result.curve])
    selected = pd.DataFrame(result.selected)
    selected.insert(0, "strategy", s.strategy.name)
    selected.insert(1, "seed", s.seed)
    selected["id"] = ds.ids[selected["index"].to_numpy()]
    write_csv(curve, run_dir / CURVE)
    write_csv(timing, run_dir / TIMING)
    write_csv(selected, run_dir / SELECTED)
    if result.decisions:
        write_csv(pd.DataFrame(result.decisions), run_dir / DECISIONS)
    return result, data_fp
