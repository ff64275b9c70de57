"""Embedders: images → fixed feature vectors, computed once and cached on disk.

An embedder is fitted on the pool only (never on test or calibration items) and then applied
to every item. The cache key covers everything that produced the features: the dataset's
content, which items the embedder was fitted on, the embedder and its options, and the
versions of the code involved.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import UserError
from .images import Images, batch_array
from .results import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["Embedding", "EMBEDDERS", "embed", "pixels"]

# fit_and_transform(images, fit_idx (M,), seed, **options) -> (N, d) float32, where images is an
# (N, H, W, C) uint8 array or ImageFiles (al_bench.images)
EmbedFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class EmbedderSpec:
    """A registered embedder: the function and what its cache key must cover."""

    fn: EmbedFn
    fitted: bool  # fitted on the pool: the key covers the fit items and the seed
    key_info: Callable[[dict], dict] | None = None  # extra key material, e.g. a weights checksum


EMBEDDERS: dict[str, EmbedderSpec] = {}


def register(name: str, fitted: bool = True, key_info: Callable[[dict], dict] | None = None):
    """Register ``fn(images, fit_idx, seed, **options)`` under ``name``."""

    def deco(fn: EmbedFn) -> EmbedFn:
        EMBEDDERS[name] = EmbedderSpec(fn, fitted, key_info)
        return fn

    return deco


@dataclass(frozen=True)
class Embedding:
    """Features for every dataset item, (N, d) float32, with what produced them."""

    features: np.ndarray
    embedder: str
    checksum: str  # sha256 of the feature bytes
    cache_file: Path | None
    from_cache: bool


@register("pixels")
def pixels(images: Images, fit_idx: np.ndarray, seed: int, max_dim: int = 256,
           image_size: int | None = None) -> np.ndarray:
    """Standardized raw pixels, PCA to at most ``max_dim`` dims, both fitted on ``fit_idx`` only.

    Images are used at their own size when they share one (``image_size`` null), else resized
    to ``image_size`` (32 when unset). Output is scaled so the average feature variance on the
    fitting items is 1.
    """
    from sklearn.decomposition import PCA

    if max_dim < 1:
        raise UserError(f"embedder.max_dim must be >= 1, got {max_dim}")
    if image_size is None and not isinstance(images, np.ndarray):
        image_size = 32
    arr = batch_array(images, np.arange(len(images)), image_size)
    x = arr.reshape(len(arr), -1).astype(np.float32) / 255.0
    fit = x[fit_idx]
    mean = fit.mean(axis=0)
    std = fit.std(axis=0)
    std[std < 1e-6] = 1.0  # constant pixels (e.g. digits' borders) stay 0 after centring
    x = (x - mean) / std
    k = int(min(max_dim, x.shape[1], len(fit_idx) - 1))
    pca = PCA(n_components=k, svd_solver="auto", random_state=int(seed) % (2**32))
    pca.fit(x[fit_idx])
    z = pca.transform(x).astype(np.float32)
    z /= np.sqrt(pca.explained_variance_.mean()).astype(np.float32)
    return z


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {"al_bench": __version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "torch": torch.__version__.split("+")[0]}


def cache_key(dataset_fingerprint: str, fit_idx: np.ndarray, name: str, options: dict, seed: int) -> tuple[str, dict]:
    """(key, what it covers). Embedders not fitted on the pool (frozen networks) are keyed by the
    dataset alone, so every seed and split shares one cache entry."""
    spec = EMBEDDERS[name]
    desc: dict = {"dataset": dataset_fingerprint, "embedder": name, "options": options, "versions": _versions()}
    if spec.fitted:
        desc["fit_items"] = hashlib.sha256(np.asarray(fit_idx, np.int64).tobytes()).hexdigest()
        desc["seed"] = int(seed)
    if spec.key_info is not None:
        desc.update(spec.key_info(options))
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest(), desc


def option_names(name: str) -> list[str]:
    return list(inspect.signature(EMBEDDERS[name].fn).parameters)[3:]


def check_options(name: str, options: dict) -> None:
    """Fail with the allowed option names when ``options`` has an unknown one."""
    if name not in EMBEDDERS:
        raise UserError(f"embedder: unknown '{name}'; choose one of {sorted(EMBEDDERS)}")
    params = option_names(name)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise UserError(f"embedder.{unknown[0]}: not an option of embedder '{name}'; allowed: {params}")


@contextlib.contextmanager
def _lock(path: Path):
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


def _read_cache(path: Path, name: str) -> np.ndarray | None:
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


def embed(
    images: Images,
    fit_idx: np.ndarray,
    name: str,
    dataset_fingerprint: str,
    cache_dir: Path | None,
    seed: int,
    **options: object,
) -> Embedding:
    """Features for all ``images`` from embedder ``name``, fitted on ``fit_idx``; cached by key.

    ``name='auto'`` resolves first (see :func:`al_bench.backbones.resolve_auto`); the returned
    :class:`Embedding` names the embedder that actually ran.
    """
    check_options(name, options)
    if name == "auto":
        from .backbones import resolve_auto

        name, options = resolve_auto(images, options)
    key, desc = cache_key(dataset_fingerprint, fit_idx, name, options, seed)
    path = None if cache_dir is None else Path(cache_dir) / "embeddings" / name / f"{key[:24]}.npz"
    if path is None:
        feats = _compute(images, fit_idx, name, seed, options)
        return Embedding(feats, name, _checksum(feats), None, False)
    feats = _read_cache(path, name)
    if feats is not None:
        return Embedding(feats, name, _checksum(feats), path, True)
    with _lock(path):
        feats = _read_cache(path, name)  # another job may have written it while we waited
        if feats is not None:
            return Embedding(feats, name, _checksum(feats), path, True)
        t0 = time.perf_counter()
        feats = _compute(images, fit_idx, name, seed, options)
        seconds = time.perf_counter() - t0
        checksum = _checksum(feats)
        atomic_write(path, lambda f: np.savez(f, features=feats))
        manifest = {"key": key, **desc, "shape": list(feats.shape), "checksum": checksum,
                    "seconds": round(seconds, 3)}
        atomic_write_text(path.with_suffix(".json"), json.dumps(manifest, indent=2, default=str) + "\n")
        log.info("embedder %s: computed %s in %.1f s, cached at %s", name, feats.shape, seconds, path)
    return Embedding(feats, name, checksum, path, False)


def _compute(images: Images, fit_idx: np.ndarray, name: str, seed: int, options: dict) -> np.ndarray:
    raw = EMBEDDERS[name].fn(images, np.asarray(fit_idx), seed, **options)
    feats = np.ascontiguousarray(raw, dtype=np.float32)
    if feats.ndim != 2 or len(feats) != len(images):
        raise RuntimeError(f"embedder {name} returned shape {feats.shape} for {len(images)} images")
    if not np.isfinite(feats).all():
        raise UserError(f"embedder {name} produced {int((~np.isfinite(feats)).sum())} NaN/inf values")
    return feats


def _checksum(feats: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(feats).tobytes()).hexdigest()


# the other embedders register themselves on import
from . import backbones, patches  # noqa: E402,F401
