"""ALGES gradient embeddings of segmentation predictions, one vector per image, never per pixel.

ALGES (Aklilu & Yeung, "ALGES: Active Learning with Gradient Embeddings for Semantic
Segmentation of Laparoscopic Surgical Images", MLHC 2022) carries BADGE's idea to segmentation:
treat the predicted segmentation ŷ as the truth and take the gradient of the loss with respect to
the last layer, a 1 × 1 convolution (a per-pixel linear layer W, C × D, no bias). For pixel i with
softmax probabilities p_i (C,) and last-layer input h_i (D,), the cross-entropy gradient is
(p_i − onehot(ŷ_i)) h_iᵀ; the embedding uses g_i ⊗ h_i with g_i = onehot(ŷ_i) − p_i, i.e. minus
the gradient, flattened class-major (C · D,), the layout of W:

- ``"image"``: the mean of g_i ⊗ h_i over all P pixels, (C · D,) — minus dL/dW of the mean
  per-pixel cross-entropy of the image;
- ``"semantic"``: for each predicted class k, the mean over the pixels with ŷ_i = k (zeros when
  no pixel is predicted k), concatenated over k, (C · C · D,) — block k is minus dL_k/dW of the
  mean cross-entropy over the pixels predicted k.

The sum over pixels factorizes: Σ_i g_i h_iᵀ = Gᵀ H with G (P, C) and H (P, D), one GEMM, so the
per-pixel (P, C · D) matrix is never built. Pixels go through in chunks (one GEMM per chunk,
sums kept in float64); for ``"semantic"`` each chunk's pixels are first sorted by predicted
class (one gather), so that each class is a slice and one GEMM.

What one image costs (arithmetic, float32, from :func:`alges_bytes`): at 512 × 512 pixels
(P = 262,144) with C = 19 classes and D = 256 features, the naive per-pixel gradients are
P × C · D = 262,144 × 4,864 = 1,275,068,416 floats = 5,100,273,664 bytes (4.75 GiB). The
factorized working set with the default chunk of 65,536 pixels is chunk × (C + D) + C · D =
65,536 × 275 + 4,864 = 18,027,264 floats = 72,109,056 bytes (68.8 MiB, 71× less) for
``"image"``; ``"semantic"`` adds the chunk's copy sorted by class (another chunk × (C + D))
and C · C · D accumulators: 36,137,216 floats = 144,548,864 bytes (137.9 MiB). The inputs
themselves, (C, H, W) probabilities and (D, H, W) features, are 4,980,736 + 67,108,864 floats
(19.9 MB + 268.4 MB) and are read in place.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ["alges_embedding", "alges_embeddings", "alges_bytes", "VARIANTS"]

VARIANTS = ("image", "semantic")
_SUM_TOL = 1e-3  # how far a pixel's probabilities may sum from 1 (float16/float32 softmax rounding)


def alges_bytes(H: int, W: int, C: int, D: int, chunk: int = 65536, itemsize: int = 4) -> dict[str, int]:
    """Bytes one H × W image with C classes and D last-layer features costs.

    ``naive``: the per-pixel gradient matrix P × C · D; ``image``: the factorized working set
    chunk × (C + D) + C · D; ``semantic``: 2 · chunk × (C + D) + C · C · D (the chunk's copy
    sorted by class besides the chunk, and one accumulator per class). ``chunk`` is capped at P.
    """
    P = int(H) * int(W)
    c = min(int(chunk), P)
    C, D = int(C), int(D)
    return {
        "naive": P * C * D * itemsize,
        "image": (c * (C + D) + C * D) * itemsize,
        "semantic": (2 * c * (C + D) + C * C * D) * itemsize,
    }


def _as_numpy(x: Any, name: str) -> np.ndarray:
    """A numpy view of ``x`` (numpy array, torch tensor or nested sequence) with a real dtype."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # a torch tensor
        t = x.detach().cpu()
        if str(t.dtype) not in ("torch.float32", "torch.float64"):
            t = t.float()  # half and bfloat16 (no numpy dtype) and integers: as float32
        x = t.numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def _check_maps(probs: Any, feats: Any) -> tuple[np.ndarray, np.ndarray, int, np.dtype]:
    """(probs (C, P), feats (D, P), W, working dtype); raises ValueError on bad shapes."""
    p = _as_numpy(probs, "probs")
    h = _as_numpy(feats, "feats")
    if p.ndim != 3:
        raise ValueError(f"probs must be (C, H, W) softmax probabilities, got shape {p.shape}")
    if h.ndim != 3:
        raise ValueError(f"feats must be (D, H, W) last-layer inputs, got shape {h.shape}")
    if p.shape[1:] != h.shape[1:]:
        raise ValueError(f"probs {p.shape} and feats {h.shape} must share (H, W): the last layer's "
                         "inputs at the resolution of its outputs")
    C, H, W = p.shape
    if C < 2:
        raise ValueError(f"probs has {C} class channel(s); a softmax over at least 2 classes is needed "
                         "(for a sigmoid output pass both channels, 1 - p and p)")
    if h.shape[0] < 1:
        raise ValueError(f"feats has no feature channels: shape {h.shape}")
    if H * W == 0:
        raise ValueError(f"the maps have no pixels: (H, W) = ({H}, {W})")
    work = np.dtype(np.float64) if np.float64 in (p.dtype, h.dtype) else np.dtype(np.float32)
    return p.reshape(C, H * W), h.reshape(h.shape[0], H * W), W, work


def _where(j: int, start: int, W: int) -> str:
    y, x = divmod(start + j, W)
    return f"pixel (row {y}, column {x})"


def _check_probs(pc: np.ndarray, start: int, W: int) -> None:
    """Probabilities (C, n) finite, ≥ 0 and summing to 1 per pixel, or ValueError naming the pixel."""
    bad = ~np.isfinite(pc).all(axis=0)
    if bad.any():
        raise ValueError(f"probs contain NaN or infinite values (first at {_where(int(np.argmax(bad)), start, W)})")
    low = pc.min(axis=0)
    if low.min() < 0:
        j = int(np.argmin(low))
        raise ValueError(f"probs must be softmax probabilities, but {_where(j, start, W)} has "
                         f"{float(low[j]):.4g} < 0 (logits instead of softmax?)")
    off = np.abs(pc.sum(axis=0, dtype=np.float64) - 1.0)
    if off.max() > _SUM_TOL:
        j = int(np.argmax(off))
        raise ValueError(f"probs must sum to 1 over the classes (axis 0), but {_where(j, start, W)} sums to "
                         f"{float(pc[:, j].sum(dtype=np.float64)):.6g} (logits instead of softmax?)")


def _checked(part: np.ndarray, hc: np.ndarray, start: int, W: int) -> np.ndarray:
    """``part`` (a GEMM over the chunk's features ``hc``), or ValueError when it is not finite.

    A NaN or infinite feature always makes the GEMM over it non-finite (x · NaN = NaN,
    x · inf = ±inf or NaN), so checking the small result replaces a pass over the (D, n)
    features; only then are the features scanned to name the pixel.
    """
    if np.isfinite(part).all():
        return part
    bad = ~np.isfinite(hc).all(axis=0)
    if bad.any():
        raise ValueError(f"feats contain NaN or infinite values (first at {_where(int(np.argmax(bad)), start, W)})")
    raise ValueError(f"the gradient sums overflow {hc.dtype}: feats are too large (max |feats| = "
                     f"{float(np.abs(hc).max()):.3g}); pass float64 maps or rescale them")


def alges_embedding(probs: Any, feats: Any, variant: str = "image", chunk: int = 65536) -> np.ndarray:
    """ALGES embedding of one image. probs (C, H, W), feats (D, H, W) → (C·D,) or (C·C·D,).

    ``probs`` are the softmax probabilities at the last layer's output resolution, ``feats`` the
    last layer's inputs at the same resolution (numpy arrays or torch tensors). ŷ = argmax of
    ``probs`` over the classes (ties: the lowest class). ``variant`` ``"image"``: mean over pixels
    of (onehot(ŷ) − p) ⊗ h; ``"semantic"``: the same mean per predicted class, class-major, zero
    blocks for absent classes. ``chunk`` pixels go through one GEMM at a time (sums in float64).
    Returns float32, or float64 when either input is float64.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if isinstance(chunk, bool) or int(chunk) != chunk or int(chunk) < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    chunk = int(chunk)
    p, h, W, work = _check_maps(probs, feats)
    (C, P), D = p.shape, h.shape[0]
    semantic = variant == "semantic"
    acc = np.zeros((C, C, D) if semantic else (C, D), np.float64)
    counts = np.zeros(C, np.int64)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite GEMM result raises ValueError instead
        for s in range(0, P, chunk):
            pc, hc = p[:, s : s + chunk], h[:, s : s + chunk]  # (C, n), (D, n) views
            _check_probs(pc, s, W)
            n = pc.shape[1]
            yhat = pc.argmax(axis=0)
            g = np.negative(pc, dtype=work)  # g = onehot(ŷ) − p, (C, n), a new array
            g[yhat, np.arange(n)] += 1.0
            hc = hc.astype(work, copy=False)
            if not semantic:
                acc += _checked(g @ hc.T, hc, s, W)  # Σ_i g_i h_iᵀ over the chunk: (C, n) @ (n, D)
                continue
            # the chunk's pixels sorted by predicted class, so that each class is one slice: one
            # gather of the features instead of one per class, row by row (each row of the view
            # is contiguous; np.take on the 2-D view would first copy the whole chunk)
            order = np.argsort(yhat, kind="stable")
            cnt = np.bincount(yhat, minlength=C)
            counts += cnt
            bounds = np.concatenate([[0], np.cumsum(cnt)]).tolist()
            gs = g[:, order]
            del g
            hs = np.empty_like(hc, order="C")
            for r in range(D):
                np.take(hc[r], order, out=hs[r])
            for k in np.flatnonzero(cnt).tolist():  # each pixel in exactly one class: one GEMM's work in all
                lo, hi = bounds[k], bounds[k + 1]
                acc[k] += _checked(gs[:, lo:hi] @ hs[:, lo:hi].T, hc, s, W)  # hc: name the pixel in image order
            del gs, hs  # before the next chunk's copies are made
    if semantic:
        acc /= np.maximum(counts, 1)[:, None, None]  # absent classes stay zero
    else:
        acc /= P
    return acc.astype(work).ravel()


def alges_embeddings(pairs: Iterable[tuple[Any, Any]], variant: str = "image", chunk: int = 65536) -> np.ndarray:
    """ALGES embeddings of many images: one row per (probs, feats) pair. → (N, E).

    Streams: each pair's maps are only needed while its row is computed, so an iterator (a
    generator running the model image by image) holds one image's maps at a time. Every image
    must give the same C and D. No pairs → a (0, 0) array.
    """
    rows: list[np.ndarray] = []
    i = -1
    for pair in pairs:  # not enumerate(): its cached result tuple would keep the previous pair alive
        i += 1
        try:
            probs, feats = pair
        except (TypeError, ValueError):
            raise ValueError(f"item {i} must be a (probs, feats) pair") from None
        try:
            row = alges_embedding(probs, feats, variant=variant, chunk=chunk)
        except ValueError as e:
            raise ValueError(f"image {i}: {e}") from None
        if rows and row.size != rows[0].size:
            raise ValueError(f"image {i} gives an embedding of length {row.size}, image 0 one of "
                             f"{rows[0].size}: every image needs the same classes C and features D")
        rows.append(row)
        del pair, probs, feats  # let this image's maps go before the next one is produced
    if not rows:
        return np.empty((0, 0), np.float32)
    return np.stack(rows)
