"""Run files: the one schema of what a run writes, where, and how it is read back.

A run folder (``<outputs_dir>/runs/<run_dir_name>``) holds ``curve.csv`` (one row per budget
point, replayable columns only), ``timing.csv`` (wall times and memory per budget point),
``selected.csv`` (what each round bought), ``config.yaml`` (the resolved run config) and
``status.json`` (running / ok / failed, with the traceback; once ok, the sha256 of every file
above: :func:`file_checksums`). Every file is written to a temporary name and renamed into
place, so a reader never sees half a file; a file cut or changed later (a copy interrupted, an
edit) is caught on reading by :func:`checksum_problem` and :func:`read_csv_strict`. The run folder's
name is built here alone: Hydra's ``hydra.sweep.subdir`` calls :func:`run_dir_name` through
the ``al_bench_run_dir`` resolver.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Mapping

import pandas as pd

__all__ = ["atomic_write", "atomic_write_text", "write_csv", "csv_text", "write_status", "read_status", "RunRecord", "find_runs",
           "run_dir_name", "run_dir_of", "free_space_problem", "write_problem", "file_checksums", "checksum_problem",
           "read_csv_strict", "DamagedFile",
           "CHECKED", "config_id", "comparison_id", "strategy_id", "check_name", "plain", "CURVE", "SELECTED",
           "CONFIG", "STATUS", "SKIPPED", "TIMING", "DECISIONS",
           "CHECKPOINT", "COMPARE_KEYS", "RUN_KEYS", "TIMING_COLUMNS"]

CURVE, SELECTED, CONFIG, STATUS = "curve.csv", "selected.csv", "config.yaml", "status.json"
SKIPPED = "skipped.csv"  # dataset items left out (missing or unreadable files), with the reason
TIMING = "timing.csv"  # wall times and peak memory per budget point (not part of the replayable results)
DECISIONS = "decisions.csv"  # per round, which candidate a choosing strategy (tcm, ...) used and why
CHECKPOINT = "checkpoint.npz"  # the loop's state after the last completed round, while a run is unfinished
# the files status.json vouches for once a run ends ok (their sha256, under "sha256")
CHECKED = (CURVE, SELECTED, TIMING, CONFIG, SKIPPED, DECISIONS)
LOCK = ".lock"  # held (flock) by the process running the run; who holds it is written inside
# runs are only compared within one group: same data, features, head and budget schedule, and
# the same everything else (comparison_id: the config but for the strategy and the seed)
COMPARE_KEYS = ["dataset", "embedder", "model", "schedule", "comparison_id"]
# columns that say which run a row belongs to: the comparison keys plus strategy and seed
RUN_KEYS = COMPARE_KEYS + ["strategy", "seed"]
# curve-row values that measure the machine rather than the method: kept out of curve.csv
TIMING_COLUMNS = ("selection_seconds", "selection_peak_mb", "train_seconds", "calibration_seconds", "eval_seconds")


# a name that becomes a folder of the run path: letters, digits and ._+- , not starting with a dot
SAFE_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,99}$")
# top-level config keys that say where files go or how fast, not what is computed
NOT_IDENTITY = ("paths", "threads", "hydra")


def check_name(key: str, value: object) -> str:
    """``value`` as a safe path part, else a one-line error naming ``key`` (no ``..``, no ``/``)."""
    from .errors import UserError

    s = str(value)
    if not SAFE_NAME.match(s):
        raise UserError(f"{s!r} cannot name a folder: use letters, digits and . _ + - (not starting with a dot)",
                        key=key)
    return s


def _digest(body: object) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]


# keys added after run ids were first issued: left out of the identity while at their default,
# so a config that does not use them keeps the run folder (and comparison group) it had
LATER_KEYS_AT_DEFAULT = {("budget", "initial_strategy"): "random", ("budget", "per_class"): None,
                         ("strategy", "sampling"): "topk", ("strategy", "beta"): 1.0,
                         ("strategy", "class_balance"): "none", ("model", "weighting"): "none",
                         ("dataset", "imbalance"): {"ratio": None, "profile": "exponential", "proportions": None},
                         ("dataset", "distractors"): []}


def _without_later_defaults(node_name: str, node: object) -> object:
    if not isinstance(node, Mapping):
        return node
    return {k: v for k, v in node.items()
            if not ((node_name, k) in LATER_KEYS_AT_DEFAULT and v == LATER_KEYS_AT_DEFAULT[(node_name, k)])}


def _identity_body(config: Mapping[str, Any], drop: tuple[str, ...] = ()) -> dict:
    return {k: _without_later_defaults(k, v) for k, v in dict(config).items() if k not in NOT_IDENTITY + drop}


def config_id(config: Mapping[str, Any]) -> str:
    """12 hex of the sha256 of the resolved config without ``paths``, ``threads`` (and Hydra's
    node): two runs share it exactly when they compute the same thing."""
    return _digest(_identity_body(config))


def strategy_id(config: Mapping[str, Any]) -> str:
    """12 hex of the sha256 of the ``strategy`` node (name, parameters, random share): runs of
    one strategy name with other parameters are another variant, never averaged together."""
    return _digest(_without_later_defaults("strategy", dict(config).get("strategy")))


def comparison_id(config: Mapping[str, Any]) -> str:
    """Like :func:`config_id` without ``strategy`` and ``seed``: runs with the same comparison id
    differ only in the strategy and the seed, so they are compared (seed-paired) with each other."""
    return _digest(_identity_body(config, ("strategy", "seed")))


def run_dir_name(dataset: str, embedder: str, model: str, schedule: str, strategy: str, seed: int,
                 config: str) -> str:
    """The run folder, relative to ``<outputs_dir>/runs``: named by content, not job number.
    Arguments are the config's names (``dataset.name`` …, ``budget.name`` as the schedule) and
    its :func:`config_id`, which tells apart runs that differ in anything else (a data file,
    ``budget.initial``, a strategy parameter …)."""
    parts = [check_name(k, v) for k, v in (("dataset.name", dataset), ("embedder.name", embedder),
                                           ("model.name", model), ("budget.name", schedule),
                                           ("strategy.name", strategy))]
    return "/".join(parts) + f"/seed{int(seed)}-{config}"


def plain(cfg) -> dict[str, Any]:
    """A composed config (DictConfig, with or without Hydra's node, or a dict) as plain values."""
    from omegaconf import OmegaConf

    if not OmegaConf.is_config(cfg):
        return dict(cfg)
    return {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in cfg.items() if k != "hydra"}


def run_dir_of(cfg) -> str:
    """:func:`run_dir_name` of a composed config (what ``${al_bench_run_dir:}`` resolves to)."""
    c = plain(cfg)
    return run_dir_name(c["dataset"]["name"], c["embedder"]["name"], c["model"]["name"], c["budget"]["name"],
                        c["strategy"]["name"], c["seed"], config_id(c))


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: set it back at once
    os.umask(mask)
    return mask


# below this much free space a run is not started: Hydra writes its own files into the run
# folder before al_bench can catch a write error, and a disk that full fails there with a
# traceback and 0-byte files; a run that starts and then fills the disk ends in one line
MIN_FREE_BYTES = 1 << 20


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (what a mkdir of ``folder`` would write into)."""
    probe = Path(os.path.abspath(folder))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_space_problem(folder: Path, need: int = MIN_FREE_BYTES) -> str | None:
    """``"no space left on device (<folder>: 8 KiB free)"`` when the file system that holds
    ``folder`` (or its nearest existing parent) has less than ``need`` bytes free, else None."""
    import shutil

    probe = _nearest_existing(folder)
    try:
        free = shutil.disk_usage(probe).free
    except OSError:  # cannot tell: let the writes say it
        return None
    return f"no space left on device ({folder}: {free // 1024} KiB free)" if free < need else None


def write_problem(folder: Path) -> str | None:
    """``"read-only file system (<folder>)"`` or ``"permission denied (<folder>)"`` when this
    process cannot create ``folder`` (or write into it): judged on the folder or its nearest
    existing parent, with ``access(2)``, which says no for a read-only mount even to root."""
    probe = _nearest_existing(folder)
    if os.access(probe, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return f"{'read-only file system' if read_only else 'permission denied'} ({folder})"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it into place.
    A SIGTERM or Ctrl-C arriving meanwhile takes effect once the file is in place
    (:func:`al_bench.interrupts.uninterrupted`), never inside the writer."""
    from .interrupts import uninterrupted

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with uninterrupted():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are shared like any file
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def csv_text(df: pd.DataFrame) -> str:
    """``df`` as CSV text that reads back to the same cells.

    Rows end in ``\n``. The csv writer quotes a cell only for the characters of its line
    terminator, so a cell with a bare ``\r`` (a file name can hold one) would be written
    unquoted and split its row for every reader: such a frame is written with ``\r\n`` line
    ends instead, which quotes it. Ordinary files stay byte for byte as before.
    """
    has_cr = any(df[c].astype(str).str.contains("\r", regex=False).any()
                 for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]))
    return df.to_csv(index=False, lineterminator="\r\n" if has_cr else "\n")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, csv_text(df))


def write_status(run_dir: Path, status: str, **fields: object) -> None:
    atomic_write_text(Path(run_dir) / STATUS, json.dumps({"status": status, **fields}, indent=2, default=str) + "\n")


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / STATUS).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"status": "unreadable", "error": str(exc)}


@dataclass(frozen=True)
class RunRecord:
    run_dir: Path
    status: dict

    @property
    def ok(self) -> bool:
        return self.status.get("status") == "ok" and (self.run_dir / CURVE).is_file()


def find_runs(root: Path) -> list[RunRecord]:
    """Every run folder under ``root`` (a folder with a status.json), sorted by path."""
    return [RunRecord(p.parent, read_status(p.parent)) for p in sorted(Path(root).rglob(STATUS))]


class DamagedFile(ValueError):
    """A run file that does not read back completely; the message names the file and what is wrong."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_checksums(run_dir: Path, names: tuple[str, ...] = CHECKED) -> dict[str, str]:
    """``{file name: sha256}`` of the ``names`` files present in ``run_dir`` (by default the
    :data:`CHECKED` ones: what a run's ok status records, so that a reader can tell the files are
    the ones the run wrote)."""
    return {name: _sha256(Path(run_dir) / name) for name in names if (Path(run_dir) / name).is_file()}


def checksum_problem(run_dir: Path, status: Mapping[str, Any]) -> str | None:
    """None when every file that ``status["sha256"]`` names has that sha256, or when the status
    has no checksums (written by a version before them); else one line naming the file."""
    sums = status.get("sha256")
    if sums is None:
        return None
    if not isinstance(sums, Mapping) or not all(isinstance(v, str) for v in sums.values()):
        return f"{STATUS}: its sha256 field is not a map of file names to checksums"
    for name, digest in sums.items():
        path = Path(run_dir) / str(name)
        if not path.is_file():
            return f"{name}: missing ({STATUS} vouches for it)"
        if _sha256(path) != digest:
            return f"{name}: not the file the run wrote (its sha256 differs from the one in {STATUS}: cut short or changed since)"
    return None


# run-file columns that are text whatever they look like (see read_csv_strict)
TEXT_COLUMNS = ("dataset", "embedder", "model", "schedule", "strategy", "comparison_id", "strategy_id", "config_id",
                "split_hash", "embedding_checksum", "al_bench_version", "code_version", "git_commit",
                "config_fingerprint", "dataset_config", "embedder_config")


def read_csv_strict(path: Path, required: tuple[str, ...] = (), not_null: tuple[str, ...] = ()) -> pd.DataFrame:
    """``path`` as a frame, only if it reads back whole: raises :class:`DamagedFile` (naming the
    file) when it is not UTF-8, does not end in a line end (cut short), has a row with more or
    fewer cells than its header, has no rows, lacks a ``required`` column, or has an empty cell
    in a ``not_null`` column it has. pandas alone fills a short last row with NaN instead."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise DamagedFile(f"{path.name}: unreadable ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DamagedFile(f"{path.name}: not UTF-8 text") from None
    if not text.endswith("\n"):  # every run file ends in a line end: without one it was cut
        raise DamagedFile(f"{path.name}: cut short (the last line has no line end)")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DamagedFile(f"{path.name}: not CSV ({exc})") from None
    header = rows[0] if rows else []
    for k, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise DamagedFile(f"{path.name}: row {k} has {len(row)} cells, the header {len(header)}")
    if len(rows) < 2:
        raise DamagedFile(f"{path.name}: no rows")
    missing = [c for c in required if c not in header]
    if missing:
        raise DamagedFile(f"{path.name}: no column {', '.join(missing)}")
    # ids, hashes and versions stay text: pandas would read a hex id of digits and one "e"
    # ("53318165e138") as a float, and one of digits alone as an integer without its leading zeros
    frame = pd.read_csv(io.StringIO(text), dtype={c: str for c in TEXT_COLUMNS if c in header})
    for col in not_null:
        if col in frame and frame[col].isna().any():
            rows_na = (frame.index[frame[col].isna()] + 1).tolist()
            raise DamagedFile(f"{path.name}: {col} is empty in row(s) {', '.join(map(str, rows_na[:5]))}")
    return frame
