"""The embedding cache: keys that cover everything that produced the features, a lock, the files.

An entry is ``<cache_dir>/embeddings/<embedder>/<key[:24]>.npz`` (the features) beside a
``.json`` manifest saying what the key covers. The key material must stay as it is: changing
it orphans every cache entry users have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import __version__
from ..runfiles import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["cache_key", "cache_path", "lock", "read", "write", "checksum"]


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {"al_bench": __version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "torch": torch.__version__.split("+")[0]}


def cache_key(dataset_fingerprint: str, fit_idx: np.ndarray, name: str, options: dict, seed: int, *,
              fitted: bool, key_info: Callable[[dict], dict] | None = None) -> tuple[str, dict]:
    """(key, what it covers). Embedders not fitted on the pool (frozen networks) are keyed by the
    dataset alone, so every seed and split shares one cache entry; ``key_info(options)`` adds
    material of the embedder's own (e.g. a weights checksum)."""
    desc: dict = {"dataset": dataset_fingerprint, "embedder": name, "options": options, "versions": _versions()}
    if fitted:
        desc["fit_items"] = hashlib.sha256(np.asarray(fit_idx, np.int64).tobytes()).hexdigest()
        desc["seed"] = int(seed)
    if key_info is not None:
        desc.update(key_info(options))
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest(), desc


def cache_path(cache_dir: Path, name: str, key: str) -> Path:
    """Where the entry ``key`` of embedder ``name`` lives."""
    return Path(cache_dir) / "embeddings" / name / f"{key[:24]}.npz"


@contextlib.contextmanager
def lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a sibling .lock file) for the duration of the block.

    Parallel sweep jobs that need the same embedding wait here while the first computes it,
    then read its cache file instead of computing it again. POSIX only; elsewhere no lock.
    """
    try:
        import fcntl
    except ImportError:  # Windows: jobs may compute the same entry twice; writes stay atomic
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read(path: Path, name: str) -> np.ndarray | None:
    """The cached features (N, d) float32, or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            feats = z["features"]
        log.info("embedder %s: loaded %s from cache %s", name, feats.shape, path)
        return feats
    except Exception as exc:  # a damaged cache entry is recomputed, not trusted
        log.warning("embedder %s: ignoring unreadable cache file %s (%s)", name, path, exc)
        return None


def write(path: Path, feats: np.ndarray, manifest: dict) -> None:
    """The features, then their manifest beside them (``.json``), each written atomically."""
    atomic_write(path, lambda f: np.savez(f, features=feats))
    atomic_write_text(path.with_suffix(".json"), json.dumps(manifest, indent=2, default=str) + "\n")


def checksum(feats: np.ndarray) -> str:
    """sha256 of the feature bytes."""
    return hashlib.sha256(np.ascontiguousarray(feats).tobytes()).hexdigest()
