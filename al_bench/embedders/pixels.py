"""``embedder=pixels``: standardized raw pixels reduced by PCA, fitted on the pool."""

from __future__ import annotations

import numpy as np

from ..data.images import Images, batch_array
from ..errors import UserError
from ..threads import single_threaded
from . import EMBEDDERS

__all__ = ["pixels"]


@EMBEDDERS.register("pixels", fitted=True)
def pixels(images: Images, fit_idx: np.ndarray, seed: int, max_dim: int = 256,
           image_size: int | None = None) -> np.ndarray:
    """Standardized raw pixels, PCA to at most ``max_dim`` dims, both fitted on ``fit_idx`` only.

    Images are used at their own size when they share one (``image_size`` null), else resized
    to ``image_size`` (32 when unset). Output is scaled so the average feature variance on the
    fitting items is 1.
    """
    from sklearn.decomposition import PCA

    if max_dim < 1:
        raise UserError(f"{{max_dim}} must be >= 1, got {max_dim}", refs={"max_dim": "embedder.max_dim"})
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
    with single_threaded(blas=True):  # the SVD and a small pool's projection depend on the BLAS thread count otherwise
        pca.fit(x[fit_idx])
        z = pca.transform(x).astype(np.float32)
    z /= np.sqrt(pca.explained_variance_.mean()).astype(np.float32)
    return z
