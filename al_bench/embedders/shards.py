"""Embedding a large folder in shards, each a job on a launcher, each its own verified cache entry.

A folder's readable images (sorted ids, as ``al-bench-select`` scans them) are cut into
``shards`` contiguous runs whose boundaries fall on multiples of the embedder's batch size, so
every forward batch holds the same images as in one unsharded pass. Shard ``i`` is an ordinary
:func:`al_bench.embedders.embed` call on its own files, keyed by their paths, sizes and
modification times: the same key, manifest and checksum rules as any embedding, so a shard is
read back only when its entry verifies, and a rerun embeds only the shards whose entry is
missing or damaged. Shards run as local processes (joblib) or as a SLURM job array (submitit).
:func:`merge` reads every shard's verified entry in order into one ``.npz`` (``ids``,
``features``, stored uncompressed, so ``al-bench-select --features`` maps it), written
atomically.

Only frozen embedders (``fitted=False``: ``dinov2_vits14``, ``timm``) can be sharded: a fitted
one (``pixels``, ``kmeans_patches``) learns from the whole pool, so its shards would not be the
pool's embedding.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import UserError

__all__ = ["Shard", "plan_shards", "missing_shards", "embed_shard", "run_shards", "merge", "LAUNCHERS"]

LAUNCHERS = ("local", "slurm")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Shard:
    """Rows ``start`` … ``stop`` − 1 of the folder's sorted readable images."""

    index: int
    start: int
    stop: int
    fingerprint: str  # sha256 over the shard's files (path, size, modification time) and the folder

    def __len__(self) -> int:
        return self.stop - self.start


def _fingerprint(root: Path, ids: Sequence[str]) -> str:
    h = hashlib.sha256(f"shard of {root}\n".encode())
    for rel in ids:
        st = os.stat(root / rel)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def plan_shards(root: Path, ids: Sequence[str], shards: int, batch_size: int) -> list[Shard]:
    """``shards`` contiguous shards of ``ids`` (fewer when there are fewer batches), boundaries on
    multiples of ``batch_size``."""
    n = len(ids)
    if shards < 1:
        raise UserError(f"got {shards}; give a number of shards >= 1", key="shards")
    batches = -(-n // max(1, int(batch_size)))
    k = max(1, min(int(shards), batches))
    cuts = [min(n, (batches * i // k) * int(batch_size)) for i in range(k + 1)]
    cuts[-1] = n
    return [Shard(i, a, b, _fingerprint(root, ids[a:b])) for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]


def _entry(shard: Shard, name: str, options: dict, cache_dir: Path) -> tuple[str, Path]:
    from . import EMBEDDERS, code_digest
    from .cache import cache_key, cache_path

    entry = EMBEDDERS.entry(name)
    key, _ = cache_key(shard.fingerprint, np.arange(len(shard)), name, options, 0, fitted=False,
                       key_info=entry.key_info, code=code_digest(name))
    return key, cache_path(cache_dir, name, key)


def check_frozen(name: str) -> None:
    from . import EMBEDDERS

    if name not in EMBEDDERS:
        raise UserError(f"unknown embedder {name!r}; choose one of {', '.join(sorted(EMBEDDERS))}", key="embedder")
    entry = EMBEDDERS.entry(name)
    if entry.resolves or entry.fitted:
        frozen = sorted(n for n in EMBEDDERS if not EMBEDDERS.entry(n).fitted and not EMBEDDERS.entry(n).resolves)
        why = "it chooses an embedder when it runs" if entry.resolves else "it is fitted on the whole pool"
        raise UserError(f"{name} cannot be sharded: {why}; use a frozen one ({', '.join(frozen)})", key="embedder")


def missing_shards(plan: list[Shard], name: str, options: dict, cache_dir: Path, say: Say) -> list[Shard]:
    """The shards whose cache entry is missing or does not verify (named, with the reason)."""
    from .cache import _verified

    todo = []
    for s in plan:
        key, path = _entry(s, name, options, cache_dir)
        if not path.is_file():
            todo.append(s)
            continue
        _, reason = _verified(path, len(s), key)
        if reason is not None:
            say(f"shard {s.index} ({path.name}) is embedded again: {reason}")
            todo.append(s)
    return todo


def embed_shard(root: str, ids: list[str], name: str, fingerprint: str, cache_dir: str, options: dict) -> dict:
    """Embed one shard into its cache entry (a job's whole work); returns what it did."""
    from ..data.images import ImageFiles
    from . import embed

    t0 = time.perf_counter()
    e = embed(ImageFiles(Path(root), ids), np.arange(len(ids)), name, fingerprint, Path(cache_dir), 0, **options)
    return {"rows": len(ids), "seconds": round(time.perf_counter() - t0, 2), "from_cache": e.from_cache,
            "file": str(e.cache_file)}


def run_shards(root: Path, ids: Sequence[str], todo: list[Shard], name: str, options: dict, cache_dir: Path, *,
               launcher: str = "local", jobs: int = 1, slurm: dict[str, Any] | None = None, say: Say = print) -> list[str]:
    """Embed the shards ``todo`` on ``launcher``; returns one line per shard that failed (empty
    when all succeeded). Each shard writes its own entry, so a failure loses only its shard."""
    if not todo:
        return []
    args = [(str(root), list(ids[s.start : s.stop]), name, s.fingerprint, str(cache_dir), dict(options)) for s in todo]
    failed: list[str] = []
    t0 = time.perf_counter()
    if launcher == "local":
        from joblib import Parallel, delayed

        def one(a):
            try:
                return embed_shard(*a)
            except Exception as exc:  # noqa: BLE001 - reported per shard; the others' entries stand
                return {"error": f"{type(exc).__name__}: {exc}"}

        results = Parallel(n_jobs=max(1, int(jobs)), backend="loky" if jobs > 1 else "sequential")(
            delayed(one)(a) for a in args)
        for s, r in zip(todo, results):
            if "error" in r:
                failed.append(f"shard {s.index} (rows {s.start}-{s.stop - 1}): {r['error']}")
            else:
                say(f"shard {s.index}: {r['rows']} image(s) in {r['seconds']:.1f} s ({time.perf_counter() - t0:.0f} s in all)")
    elif launcher == "slurm":
        import submitit

        folder = Path(cache_dir) / "embed_jobs" / f"{name}-{int(time.time())}-{os.getpid()}"
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = {"timeout_min": 60, "cpus_per_task": 2, "mem_gb": 8, "name": f"al_bench_embed_{name}"}
        params.update(slurm or {})
        ex.update_parameters(**params)
        submitted = ex.map_array(embed_shard, *zip(*args))
        say(f"submitted {len(submitted)} shard job(s) to SLURM ({', '.join(j.job_id for j in submitted)}); logs in {folder}")
        failed = wait_jobs(list(zip(todo, submitted)), say, t0)
    else:
        raise UserError(f"got {launcher!r}; choose one of {', '.join(LAUNCHERS)}", key="launcher")
    return failed


def _in_queue(job_id: str) -> bool:
    """Whether SLURM still lists the job (pending or running); True when squeue cannot say."""
    import subprocess

    try:
        r = subprocess.run(["squeue", "-h", "-r", "-j", str(job_id), "-o", "%i"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError):
        return True
    if r.returncode != 0:  # "Invalid job id specified": no longer known to the controller
        return "invalid job id" not in (r.stderr or "").lower()
    return bool(r.stdout.strip())


def wait_jobs(pairs: list, say: Say, t0: float, *, in_queue: Callable[[str], bool] = _in_queue, grace: float = 90.0,
              poll: float = 2.0) -> list[str]:
    """Wait for every (shard, submitit job); one line per shard that failed. A job that left the
    queue without a result for ``grace`` seconds (a task cancelled while pending never reaches
    the accounting submitit reads, so its result would be awaited forever) counts as lost."""
    failed: list[str] = []
    left = list(pairs)
    gone: dict[int, float] = {}
    while left:
        for s, job in list(left):
            why = None
            if job.done():
                try:
                    r = job.result()
                    say(f"shard {s.index}: {r['rows']} image(s) in {r['seconds']:.1f} s (job {job.job_id}, "
                        f"{time.perf_counter() - t0:.0f} s in all)")
                except Exception as exc:  # noqa: BLE001 - a cancelled, failed or timed-out job: that shard only
                    why = " ".join(str(exc).split())[:300]
            elif in_queue(job.job_id):
                gone.pop(s.index, None)
                continue
            else:
                since = gone.setdefault(s.index, time.perf_counter())
                if time.perf_counter() - since < grace:
                    continue
                why = f"left the queue {grace:.0f} s ago without a result (cancelled before it ran?)"
            if why is not None:
                failed.append(f"shard {s.index} (rows {s.start}-{s.stop - 1}), job {job.job_id}: {why}")
            left.remove((s, job))
        if left:
            time.sleep(poll)
    return failed


def merge(plan: list[Shard], ids: Sequence[str], name: str, options: dict, cache_dir: Path, out: Path,
          dtype: str = "float32") -> dict:
    """Every shard's verified entry, in order, into ``out`` (.npz: ``ids``, ``features``, stored
    uncompressed; written to a temporary name, then renamed). Fails, writing nothing, when a
    shard's entry is missing or does not verify."""
    from ..runfiles import atomic_write
    from .cache import _verified

    parts, bad = [], []
    for s in plan:
        key, path = _entry(s, name, options, cache_dir)
        feats, reason = _verified(path, len(s), key) if path.is_file() else (None, "not embedded")
        if reason is not None:
            bad.append(f"shard {s.index}: {reason}")
        else:
            parts.append(feats)
    if bad:
        raise UserError(f"cannot merge: {'; '.join(bad[:5])}; run the command again to embed them", key="out")
    x = np.concatenate(parts).astype(np.dtype(dtype), copy=False)
    try:
        atomic_write(out, lambda f: np.savez(f, ids=np.asarray(list(ids), dtype=str), features=x))
    except OSError as exc:  # a read-only or full disk: nothing is left half-written (atomic_write)
        raise UserError(f"cannot write {out} ({type(exc).__name__}: {exc}); the shards stay cached: run again "
                        "with another --out", key="out") from None
    return {"rows": int(x.shape[0]), "dim": int(x.shape[1]), "dtype": str(x.dtype),
            "sha256": hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()}
