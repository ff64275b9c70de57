"""Embedders: images → fixed feature vectors, computed once and cached on disk.

An embedder is fitted on the pool only (never on test or calibration items) and then applied
to every item. One module per embedder registers ``fn(images, fit_idx, seed, **options) →
(N, d) float32`` in :data:`EMBEDDERS` (``embedder=<name>``), where ``images`` is an
(N, H, W, C) uint8 array or :class:`~al_bench.data.images.ImageFiles`. Its metadata:

- ``fitted``: fitted on the pool, so the cache key covers the fit items and the seed
  (frozen networks are keyed by the dataset alone);
- ``key_info``: ``options → dict`` of extra key material (e.g. a weights checksum), or None;
- ``code``: import names of the modules the computation relies on besides the embedder's own
  and :data:`.cache.CODE_MODULES` (e.g. ``al_bench.embedders.weights``); their source is in the
  cache key, so an edit there recomputes the features;
- ``resolves``: the member is not an embedder but a choice of one — ``fn(images, options,
  **options) → (name, options)`` (``auto``); its options are still checked.

The cache key covers everything that produced the features (see :mod:`.cache`): the dataset's
content, which items the embedder was fitted on, the embedder and its options, the source of
the code that computes them and the versions of the libraries involved. A cache entry that does
not match its manifest (shape, dtype, finiteness, sha256) is recomputed with a warning.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.images import Images
from ..errors import UserError
from ..registry import Registry
from . import cache

log = logging.getLogger(__name__)

__all__ = ["EMBEDDERS", "Embedding", "embed", "code_digest"]

EMBEDDERS: Registry = Registry("embedder", package=__name__, key="embedder", injected=("fit_idx", "seed"),
                               required=("fitted",), defaults={"key_info": None, "resolves": False, "code": ()})


@dataclass(frozen=True)
class Embedding:
    """Features for every dataset item, (N, d) float32, with what produced them."""

    features: np.ndarray
    embedder: str
    checksum: str  # sha256 of the feature bytes
    cache_file: Path | None
    from_cache: bool


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

    A resolving name (``auto``) is resolved first; the returned :class:`Embedding` names the
    embedder that actually ran.
    """
    EMBEDDERS.check_options(name, options)
    entry = EMBEDDERS.entry(name)
    if entry.resolves:
        name, options = entry.obj(images, options, **options)
        entry = EMBEDDERS.entry(name)
    if cache_dir is None:
        feats = _compute(images, fit_idx, name, seed, options)
        return Embedding(feats, name, cache.checksum(feats), None, False)
    key, desc = cache.cache_key(dataset_fingerprint, fit_idx, name, options, seed, fitted=entry.fitted,
                                key_info=entry.key_info, code=code_digest(name))
    path = cache.cache_path(cache_dir, name, key)
    n = len(images)
    # unlocked first look: silent, since a job may be writing the entry right now
    feats = cache.read(path, name, n, key, warn=False)
    if feats is not None:
        return Embedding(feats, name, cache.checksum(feats), path, True)
    with cache.lock(path):
        # another job may have written it while we waited; a bad entry is named here and overwritten
        feats = cache.read(path, name, n, key)
        if feats is not None:
            return Embedding(feats, name, cache.checksum(feats), path, True)
        t0 = time.perf_counter()
        feats = _compute(images, fit_idx, name, seed, options)
        seconds = time.perf_counter() - t0
        checksum = cache.checksum(feats)
        cache.write(path, feats, {"key": key, **desc, "shape": list(feats.shape), "checksum": checksum,
                                  "seconds": round(seconds, 3)})
        log.info("embedder %s: computed %s in %.1f s, cached at %s", name, feats.shape, seconds, path)
    return Embedding(feats, name, checksum, path, False)


def code_digest(name: str) -> dict:
    """The :func:`.cache.code_digest` of embedder ``name``: its module, :data:`.cache.CODE_MODULES`,
    the modules its entry declares (``code``) and, for fitted ones, ``al_bench.rng``."""
    entry = EMBEDDERS.entry(name)
    modules = [*cache.CODE_MODULES, *entry.code, *(["al_bench.rng"] if entry.fitted else [])]
    return cache.code_digest(entry.obj, modules)


def _compute(images: Images, fit_idx: np.ndarray, name: str, seed: int, options: dict) -> np.ndarray:
    """Run embedder ``name`` and check what it returns: (N, d), finite, float32."""
    raw = EMBEDDERS[name](images, np.asarray(fit_idx), seed, **options)
    feats = np.ascontiguousarray(raw, dtype=np.float32)
    if feats.ndim != 2 or len(feats) != len(images):
        raise RuntimeError(f"embedder {name} returned shape {feats.shape} for {len(images)} images")
    if not np.isfinite(feats).all():
        raise UserError(f"embedder {name} produced {int((~np.isfinite(feats)).sum())} NaN/inf values")
    return feats
