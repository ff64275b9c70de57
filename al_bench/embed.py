"""Embedders: images → fixed feature vectors, computed once and cached on disk.

An embedder is fitted on the pool only (never on test or calibration items) and then applied
to every item. The cache key covers everything that produced the features: the dataset's
content, which items the embedder was fitted on, the embedder and its options, and the
versions of the code involved.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import UserError
from .results import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["Embedding", "EMBEDDERS", "embed", "pixels"]

# fit_and_transform(images (N,H,W,C) uint8, fit_idx (M,), seed, **options) -> (N, d) float32
EmbedFn = Callable[..., np.ndarray]
EMBEDDERS: dict[str, EmbedFn] = {}


def register(name: str) -> Callable[[EmbedFn], EmbedFn]:
    def deco(fn: EmbedFn) -> EmbedFn:
        EMBEDDERS[name] = fn
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
def pixels(images: np.ndarray, fit_idx: np.ndarray, seed: int, max_dim: int = 256) -> np.ndarray:
    """Standardized raw pixels, PCA to at most ``max_dim`` dims, both fitted on ``fit_idx`` only.

    Output is scaled so the average feature variance on the fitting items is 1.
    """
    from sklearn.decomposition import PCA

    if max_dim < 1:
        raise UserError(f"embedder.max_dim must be >= 1, got {max_dim}")
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
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

    return {"al_bench": __version__, "numpy": np.__version__, "sklearn": sklearn.__version__}


def cache_key(dataset_fingerprint: str, fit_idx: np.ndarray, name: str, options: dict, seed: int) -> str:
    desc = {
        "dataset": dataset_fingerprint,
        "fit_items": hashlib.sha256(np.asarray(fit_idx, np.int64).tobytes()).hexdigest(),
        "embedder": name,
        "options": options,
        "seed": int(seed),
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


def check_options(name: str, options: dict) -> None:
    """Fail with the allowed option names when ``options`` has an unknown one."""
    if name not in EMBEDDERS:
        raise UserError(f"embedder: unknown '{name}'; choose one of {sorted(EMBEDDERS)}")
    params = list(inspect.signature(EMBEDDERS[name]).parameters)[3:]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise UserError(f"embedder.{unknown[0]}: not an option of embedder '{name}'; allowed: {params}")


def embed(
    images: np.ndarray,
    fit_idx: np.ndarray,
    name: str,
    dataset_fingerprint: str,
    cache_dir: Path | None,
    seed: int,
    **options: object,
) -> Embedding:
    """Features for all ``images`` from embedder ``name``, fitted on ``fit_idx``; cached by key."""
    check_options(name, options)
    key = cache_key(dataset_fingerprint, fit_idx, name, options, seed)
    path = None if cache_dir is None else Path(cache_dir) / "embeddings" / name / f"{key[:24]}.npz"
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                feats = z["features"]
            log.info("embedder %s: loaded %s from cache %s", name, feats.shape, path)
            return Embedding(feats, name, _checksum(feats), path, True)
        except Exception as exc:  # a damaged cache entry is recomputed, not trusted
            log.warning("embedder %s: ignoring unreadable cache file %s (%s)", name, path, exc)
    feats = np.ascontiguousarray(EMBEDDERS[name](images, np.asarray(fit_idx), seed, **options), dtype=np.float32)
    if not np.isfinite(feats).all():
        raise UserError(f"embedder {name} produced {int((~np.isfinite(feats)).sum())} NaN/inf values")
    checksum = _checksum(feats)
    if path is not None:
        atomic_write(path, lambda f: np.savez(f, features=feats))
        manifest = {"key": key, "embedder": name, "options": options, "shape": list(feats.shape),
                    "checksum": checksum, "dataset": dataset_fingerprint, "versions": _versions()}
        atomic_write_text(path.with_suffix(".json"), json.dumps(manifest, indent=2, default=str) + "\n")
        log.info("embedder %s: computed %s, cached at %s", name, feats.shape, path)
    return Embedding(feats, name, checksum, path, False)


def _checksum(feats: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(feats).tobytes()).hexdigest()
