"""The embedding cache: keys that cover everything that produced the features, a lock, the files.

An entry is ``<cache_dir>/embeddings/<embedder>/<key[:24]>.npz`` (the features) beside a
``.json`` manifest saying what the key covers and the features' shape and sha256. The key
covers the source code that computes the features (:func:`code_digest`), so editing an embedder
makes new entries instead of reusing stale ones. Every read is checked against the manifest
(:func:`read`): an entry that does not match is recomputed, with a warning, never used. Other
key material must stay as it is: changing it orphans every cache entry users have.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from .. import __version__
from ..runfiles import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["cache_key", "code_digest", "CODE_MODULES", "cache_path", "lock", "read", "write", "checksum"]

# Modules every embedder's features go through, besides its own module: embed() (the float32
# cast and checks, this package's __init__), this module (key and verification) and the image
# decoding and resizing. An embedder declares further modules it computes with in its registry
# entry (``code=``); fitted embedders add al_bench.rng (their random streams). Only these are
# hashed, not the whole package, so that editing one embedder (or the loop) does not throw away
# every other embedder's features — hours of DINOv2 on BDD100K.
CODE_MODULES = ("al_bench.embedders", "al_bench.embedders.cache", "al_bench.data.images")


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {"al_bench": __version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "torch": torch.__version__.split("+")[0]}


def code_digest(obj: Callable, modules: Iterable[str]) -> dict[str, Any]:
    """``{"sha256", "modules"}``: sha256 over the source files of ``obj``'s module and of
    ``modules`` (import names), read now, so an edit shows even within one process."""
    files = {getattr(obj, "__module__", "") or "<embedder>": Path(inspect.getsourcefile(obj) or inspect.getfile(obj))}
    for mod in modules:
        files.setdefault(mod, Path(importlib.import_module(mod).__file__))
    h = hashlib.sha256()
    for mod in sorted(files):
        h.update(mod.encode() + b"\0" + files[mod].read_bytes() + b"\0")
    return {"sha256": h.hexdigest(), "modules": sorted(files)}


def cache_key(dataset_fingerprint: str, fit_idx: np.ndarray, name: str, options: dict, seed: int, *,
              fitted: bool, key_info: Callable[[dict], dict] | None = None,
              code: Mapping[str, Any] | None = None) -> tuple[str, dict]:
    """(key, what it covers). Embedders not fitted on the pool (frozen networks) are keyed by the
    dataset alone, so every seed and split shares one cache entry; ``key_info(options)`` adds
    material of the embedder's own (e.g. a weights checksum); ``code`` is the
    :func:`code_digest` of the source that computes the features."""
    desc: dict = {"dataset": dataset_fingerprint, "embedder": name, "options": options, "versions": _versions()}
    if fitted:
        desc["fit_items"] = hashlib.sha256(np.asarray(fit_idx, np.int64).tobytes()).hexdigest()
        desc["seed"] = int(seed)
    if key_info is not None:
        desc.update(key_info(options))
    if code is not None:
        desc["code"] = dict(code)
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


def read(path: Path, name: str, n_items: int | None = None, key: str | None = None,
         warn: bool = True) -> np.ndarray | None:
    """The cached features (N, d) float32, or None when absent or when they do not match their
    manifest; then, with ``warn``, a warning names the file and the reason (the caller recomputes
    and overwrites the entry). Checked: the manifest reads and is the entry of ``key``; the
    features are float32 (``n_items``, d) as the manifest says, all finite, with its sha256."""
    if not path.is_file():
        return None
    feats, reason = _verified(path, n_items, key)
    if reason is not None:
        if warn:
            log.warning("embedder %s: cache file %s is not used (%s); recomputing it", name, path, reason)
        return None
    log.info("embedder %s: loaded %s from cache %s", name, feats.shape, path)
    return feats


def _verified(path: Path, n_items: int | None, key: str | None) -> tuple[np.ndarray | None, str | None]:
    """(features, None) when the entry at ``path`` matches its manifest, else (None, why not)."""
    mpath = path.with_suffix(".json")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        shape, expected = tuple(int(v) for v in manifest["shape"]), str(manifest["checksum"])
    except FileNotFoundError:
        return None, f"its manifest {mpath.name} is missing"
    except Exception as exc:  # noqa: BLE001 - bad JSON, wrong types, missing fields: a damaged manifest
        return None, f"its manifest {mpath.name} is damaged ({type(exc).__name__}: {exc})"
    if key is not None and manifest.get("key") != key:
        return None, f"its manifest is for another key ({str(manifest.get('key'))[:24]}…)"
    try:
        with np.load(path, allow_pickle=False) as z:
            feats = z["features"]
    except Exception as exc:  # noqa: BLE001 - truncated zip, not an npz, no 'features' array
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if feats.dtype != np.float32:
        return None, f"dtype {feats.dtype}, expected float32"
    if feats.ndim != 2 or feats.shape != shape or (n_items is not None and feats.shape[0] != n_items):
        want = shape if n_items is None else (n_items, *shape[1:])
        return None, f"shape {feats.shape}, expected {want}"
    bad = int(feats.size - np.count_nonzero(np.isfinite(feats)))
    if bad:
        return None, f"{bad} NaN/inf values"
    if checksum(feats) != expected:
        return None, "sha256 differs from its manifest's"
    return feats, None


def write(path: Path, feats: np.ndarray, manifest: dict) -> None:
    """The features, then their manifest beside them (``.json``), each written atomically."""
    atomic_write(path, lambda f: np.savez(f, features=feats))
    atomic_write_text(path.with_suffix(".json"), json.dumps(manifest, indent=2, default=str) + "\n")


def checksum(feats: np.ndarray) -> str:
    """sha256 of the feature bytes."""
    return hashlib.sha256(np.ascontiguousarray(feats).tobytes()).hexdigest()
