"""``embedder=kmeans_patches``: single-layer k-means features on image patches, offline and label-free.

After Coates, Lee & Ng, "An Analysis of Single-Layer Networks in Unsupervised Feature
Learning" (AISTATS 2011): images at a small fixed size; every ``patch`` × ``patch`` window
(stride 1) is contrast-normalized and ZCA-whitened; k-means on a sample of whitened patches
from the pool gives ``centroids`` filters; each window's code is the "triangle" activation
max(0, mean_k(z) − z_k) of its distances z_k to the centroids; codes are summed over the four
image quadrants (4 × centroids dims), standardized, and by default reduced by PCA to 384 dims.
Needs no download and no labels; everything is fitted on the pool items only.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np

from ..data.images import Images, batch_array
from ..errors import UserError
from ..rng import stream
from ..threads import single_threaded
from . import EMBEDDERS

log = logging.getLogger(__name__)
# faiss logs every instruction-set variant it fails to load at INFO; that is noise in run logs
logging.getLogger("faiss.loader").setLevel(logging.WARNING)

__all__ = ["kmeans_patches", "PatchFeatures"]

_CONTRAST_EPS = 10.0  # added to each patch's variance (pixel values 0..255), as in the paper


def _windows(imgs: np.ndarray, patch: int) -> np.ndarray:
    """(B, S, S, C) → (B, P, P, patch·patch·C) float32, P = S − patch + 1."""
    w = np.lib.stride_tricks.sliding_window_view(imgs, (patch, patch), axis=(1, 2))  # (B, P, P, C, p, p)
    b, p = w.shape[0], w.shape[1]
    return np.ascontiguousarray(w.transpose(0, 1, 2, 4, 5, 3)).reshape(b, p, p, -1).astype(np.float32)


def _normalize(x: np.ndarray) -> np.ndarray:
    """Per-patch brightness and contrast normalization (last axis)."""
    x = x - x.mean(axis=-1, keepdims=True)
    x /= np.sqrt(x.var(axis=-1, keepdims=True) + _CONTRAST_EPS)
    return x


class PatchFeatures:
    """The fitted encoder: whitening and centroids, applied in batches of images."""

    def __init__(self, patch: int, mean: np.ndarray, zca: np.ndarray, centroids: np.ndarray) -> None:
        self.patch, self.mean, self.zca, self.centroids = patch, mean, zca, centroids
        self.c_sq = (centroids.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)

    @classmethod
    def fit(cls, imgs: np.ndarray, patch: int, centroids: int, n_patches: int, whiten_eps: float,
            iters: int, rng: np.random.Generator) -> "PatchFeatures":
        import faiss

        b, s = len(imgs), imgs.shape[1]
        p = s - patch + 1
        which = rng.integers(0, b, n_patches)
        rows, cols = rng.integers(0, p, n_patches), rng.integers(0, p, n_patches)
        sample = np.stack([imgs[i, r : r + patch, c : c + patch, :] for i, r, c in zip(which, rows, cols)])
        x = _normalize(sample.reshape(n_patches, -1).astype(np.float32))
        mean = x.mean(axis=0)
        # one thread (BLAS and FAISS's OpenMP): the covariance (a sum over patches), its
        # eigendecomposition, the whitened sample and FAISS's k-means on it all depend on the
        # thread count in the last bits otherwise, and the centroids move with them
        with single_threaded(blas=True):
            cov = np.cov(x - mean, rowvar=False).astype(np.float64)
            evals, evecs = np.linalg.eigh(cov)
            zca = (evecs @ np.diag(1.0 / np.sqrt(np.maximum(evals, 0.0) + whiten_eps)) @ evecs.T).astype(np.float32)
            xw = np.ascontiguousarray((x - mean) @ zca)
            # FAISS trains in one call with no progress hook; on a terminal its own verbose mode
            # rewrites one line per iteration (with carriage returns, so never into a log file), and
            # the log says what runs and how long it took
            live = sys.stdout.isatty() and not os.environ.get("CI")
            km = faiss.Kmeans(xw.shape[1], centroids, niter=iters, seed=int(rng.integers(2**31 - 1)),
                              max_points_per_centroid=max(256, n_patches // centroids + 1), verbose=live)
            log.info("kmeans_patches: k-means of %d whitened patches into %d centroids (%d iterations)...",
                     n_patches, centroids, iters)
            t0 = time.perf_counter()
            km.train(xw)
            log.info("kmeans_patches: k-means done in %.1f s; encoding the images", time.perf_counter() - t0)
        return cls(patch, mean, zca, np.ascontiguousarray(km.centroids, dtype=np.float32))

    def transform(self, imgs: np.ndarray) -> np.ndarray:
        """(B, S, S, C) uint8 → (B, 4·K) float32 quadrant-pooled triangle activations."""
        win = _windows(imgs, self.patch)  # (B, P, P, D)
        b, p = win.shape[0], win.shape[1]
        x = (_normalize(win.reshape(-1, win.shape[-1])) - self.mean) @ self.zca
        z_sq = (x * x).sum(axis=1, keepdims=True) - 2.0 * (x @ self.centroids.T) + self.c_sq
        z = np.sqrt(np.maximum(z_sq, 0.0, out=z_sq), out=z_sq)
        act = np.maximum(z.mean(axis=1, keepdims=True) - z, 0.0, out=z).reshape(b, p, p, -1)
        h = p // 2
        quads = [act[:, :h, :h], act[:, :h, h:], act[:, h:, :h], act[:, h:, h:]]
        return np.concatenate([q.sum(axis=(1, 2)) for q in quads], axis=1)


def _key(options: dict) -> dict:
    """Cache-key material beyond the common versions: the k-means comes from faiss."""
    import faiss

    return {"faiss": faiss.__version__}


@EMBEDDERS.register("kmeans_patches", fitted=True, key_info=_key)
def kmeans_patches(images: Images, fit_idx: np.ndarray, seed: int, image_size: int = 32, patch: int = 6,
                   centroids: int = 400, n_patches: int = 100_000, whiten_eps: float = 0.1,
                   kmeans_iters: int = 20, batch_size: int = 256, pca_dim: int = 384) -> np.ndarray:
    """k-means patch features (see the module doc), fitted on ``fit_idx`` only.

    ``pca_dim`` > 0 projects the 4 · centroids standardized features onto their top principal
    components (fitted on ``fit_idx``), scaled to unit mean variance: 384 matches DINOv2
    ViT-S/14's width, so head and selection costs compare (its accuracy cost is measured in
    bench/README.md).
    """
    from tqdm.auto import tqdm

    if not 2 <= patch < image_size:
        raise UserError(f"{{patch}}={patch}: must be at least 2 and below {{image_size}}={image_size}",
                        refs={"patch": "embedder.patch", "image_size": "embedder.image_size"})
    if centroids < 2 or n_patches < centroids:
        raise UserError(f"{{centroids}}={centroids}, {{n_patches}}={n_patches}: need 2 <= centroids <= n_patches",
                        refs={"centroids": "embedder.centroids", "n_patches": "embedder.n_patches"})
    rng = stream(seed, "kmeans_patches")
    fit_idx = np.asarray(fit_idx)
    fit_imgs = batch_array(images, fit_idx, image_size)
    if fit_imgs.shape[-1] == 1:
        fit_imgs = np.repeat(fit_imgs, 3, axis=-1)
    enc = PatchFeatures.fit(fit_imgs, patch, centroids, n_patches, whiten_eps, kmeans_iters, rng)
    del fit_imgs
    n = len(images)
    out = np.empty((n, 4 * centroids), np.float32)
    # one BLAS thread: OpenBLAS's multi-threaded sgemm splits the work so that its sums differ in
    # the last bits from one thread's on some CPUs (measured on a Haswell-kernel machine, 2026-12-07),
    # and the features must not depend on how many threads a job got
    with single_threaded(blas=True):
        for s in tqdm(range(0, n, batch_size), desc="kmeans_patches", unit="batch", leave=False,
                      disable=True if n <= 4 * batch_size else None):  # None: off when not a terminal
            imgs = batch_array(images, np.arange(s, min(n, s + batch_size)), image_size)
            if imgs.shape[-1] == 1:
                imgs = np.repeat(imgs, 3, axis=-1)
            out[s : s + len(imgs)] = enc.transform(imgs)
    mu, sd = out[fit_idx].mean(axis=0), out[fit_idx].std(axis=0)
    sd[sd < 1e-6] = 1.0
    out -= mu
    out /= sd
    if 0 < pca_dim < out.shape[1]:
        from sklearn.decomposition import PCA

        k = min(pca_dim, len(fit_idx) - 1)
        # one BLAS thread: the randomized SVD's products and factorizations, and the projection
        # of a small pool, depend on the thread count in the last bits otherwise
        with single_threaded(blas=True):
            pca = PCA(n_components=k, random_state=int(rng.integers(2**31 - 1))).fit(out[fit_idx])
            out = pca.transform(out).astype(np.float32)
        out /= np.float32(np.sqrt(pca.explained_variance_.mean()))
    return out
