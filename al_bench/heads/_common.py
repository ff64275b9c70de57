"""What every head shares: softmax, the last-layer gradient factors, MC-dropout masks, and
default implementations of the capabilities a head can derive from the others."""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "residual", "with_bias", "gradient_factors", "dropout_masks", "point_dropout_proba", "canonical_order",
           "uint16_draws", "HeadBase"]


# fixed odd multipliers of the row hash in canonical_order (any fixed set works; these are drawn
# once from a seeded generator so that they need not be written out)
_ROW_HASH = np.random.Generator(np.random.PCG64(0x5EED)).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)


def canonical_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A row order of the training set that depends on its rows and labels, not on the order
    they came in: sorted by a 64-bit hash of each row's float32 bits, then by label.

    A head trained with minibatches and dropout masks drawn in row order gives a different
    model for the same labeled set in another order; fitting in this order makes the fit a
    function of the set (as a multiset of (features, label)), so two strategies that reach the
    same labeled set at the same seed get the same model and the same test accuracy. Rows that
    are equal in every bit and label are interchangeable; a hash collision between different
    rows (probability about n² / 2⁶⁴) would only leave those rows in their given order.
    """
    bits = np.ascontiguousarray(np.asarray(x, np.float32).reshape(len(x), -1)).view(np.uint32)
    d = bits.shape[1]
    mult = _ROW_HASH[np.arange(d) % len(_ROW_HASH)] + np.uint64(2) * (np.arange(d, dtype=np.uint64) // len(_ROW_HASH))
    h = np.empty(len(bits), np.uint64)
    step = max(1, (1 << 16) // max(d, 1))  # rows per block: the uint64 products stay in cache
    buf = np.empty((min(step, len(bits)), d), np.uint64)
    with np.errstate(over="ignore"):
        for s in range(0, len(bits), step):
            block = buf[: len(bits[s : s + step])]
            np.multiply(bits[s : s + step], mult, out=block, casting="unsafe")
            block.sum(axis=1, dtype=np.uint64, out=h[s : s + step])  # wraps mod 2⁶⁴
    return np.lexsort((np.asarray(y), h))


def uint16_draws(rng: np.random.Generator, count: int) -> np.ndarray:
    """``rng.integers(0, 65536, count, dtype=np.uint16)``: the same values, and the same generator
    state after, taken from the raw 64-bit outputs in bulk. (count,) uint16

    NumPy draws full-range 16-bit integers as the halves of 32-bit draws, low half first, and
    those as the halves of the 64-bit outputs, low half first (a half left over is kept by the
    bit generator for its next 32-bit draw). On a little-endian machine that is the raw outputs
    viewed as uint16, after the kept half if there is one. Several times faster than
    ``integers`` for a dropout mask's worth of draws.
    """
    if count <= 0 or np.little_endian is False:
        return rng.integers(0, 65536, count, dtype=np.uint16)
    bg = rng.bit_generator
    state = bg.state
    if "has_uint32" not in state:  # a bit generator without the 32-bit buffer
        return rng.integers(0, 65536, count, dtype=np.uint16)
    head = np.empty(0, np.uint16)
    if state["has_uint32"]:
        head = np.array([state["uinteger"]], np.uint32).view(np.uint16)
        state["has_uint32"] = 0
        bg.state = state
    need = count - head.size
    if need <= 0:
        return head[:count].copy()
    n32 = -(-need // 2)
    u32 = bg.random_raw(-(-n32 // 2)).view(np.uint32)
    if n32 % 2:  # the high half of the last output is the next 32-bit draw
        state = bg.state
        state["has_uint32"], state["uinteger"] = 1, int(u32[-1])
        bg.state = state
    tail = u32[:n32].view(np.uint16)[:need]
    return tail if head.size == 0 else np.concatenate([head, tail])


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax. (N, C) → (N, C)"""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def residual(probs: np.ndarray) -> np.ndarray:
    """p − onehot(ŷ), ŷ = argmax p: the gradient of the cross-entropy loss with respect to the
    logits when the predicted label is taken as the target. (N, C) → (N, C) float64"""
    a = np.array(probs, dtype=np.float64, copy=True)
    a[np.arange(len(a)), a.argmax(axis=1)] -= 1.0
    return a


def with_bias(x: np.ndarray) -> np.ndarray:
    """[x, 1]: the inputs of a linear layer with its bias as a last constant input. (N, d) → (N, d+1) float64"""
    return np.concatenate([np.asarray(x, np.float64), np.ones((len(x), 1))], axis=1)


def gradient_factors(probs: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factors of the last layer's loss gradient, predicted label as target: (a (N, C), xb (N, d+1))
    with gradient_i = a_i ⊗ xb_i for the weights [W, b] of a layer mapping x to the logits."""
    return residual(probs), with_bias(x)


def dropout_masks(k: int, d: int, rate: float, generator):
    """(K, d) inverted-dropout masks (a torch tensor), one per MC pass, shared by every point of
    the pass. ``generator`` is a ``torch.Generator``."""
    import torch  # here, so that importing the heads' helpers does not load torch

    if rate <= 0:
        return torch.ones(k, d)
    keep = 1.0 - rate
    return (torch.rand(k, d, generator=generator) < keep).float() / keep


def point_dropout_proba(f: np.ndarray, weight: np.ndarray, bias: np.ndarray, temperature: float, m: int,
                        rate: float, seed: int, chunk_elems: int = 1 << 22) -> np.ndarray:
    """Probabilities of a last linear layer (``weight`` (C, d), ``bias`` (C,)) on its inputs ``f``
    (N, d) under input dropout with a fresh mask for every point in every pass. (M, N, C) float32

    Inverted dropout: a feature is kept with probability 1 − ``rate`` and then scaled by
    1 / (1 − rate), as in training. The masks come from one PCG64 stream seeded by ``seed``,
    drawn point by point ((M, d) uniforms per point, in row order), so the result does not
    depend on how the rows are chunked. Rows go in chunks of about ``chunk_elems`` masked
    values, so extra memory is bounded whatever N is.
    """
    f = np.asarray(f, np.float32)
    w = np.ascontiguousarray(np.asarray(weight, np.float32).T)  # (d, C)
    b = np.asarray(bias, np.float32)
    n, d = f.shape
    m, keep = int(m), 1.0 - float(rate)
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    out = np.empty((m, n, len(b)), np.float32)
    step = max(1, int(chunk_elems) // max(1, m * d))
    for s in range(0, n, step):
        fc = f[s : s + step]
        u = rng.random((len(fc), m, d), dtype=np.float32)
        masked = np.where(u < keep, fc[:, None, :] * np.float32(1.0 / keep), np.float32(0.0))
        z = (masked.reshape(-1, d) @ w + b).reshape(len(fc), m, -1) / np.float32(temperature)
        out[:, s : s + step] = softmax(z.reshape(-1, z.shape[-1])).reshape(z.shape).transpose(1, 0, 2)
    return out


class HeadBase:
    """Defaults for the capabilities a head derives from its own ``logits`` and ``sample_proba``."""

    temperature: float = 1.0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Temperature-scaled class probabilities. (N, …) → (N, C) float64"""
        return softmax(self.logits(x) / self.temperature)

    def bald_scores(self, x: np.ndarray, k: int, seed: int, rows: np.ndarray | None = None) -> np.ndarray:
        """BALD (nats) of rows ``rows`` of ``x`` (default all) from :meth:`sample_proba`. (N,)"""
        from ..scores import bald

        return bald(self.sample_proba(x if rows is None else x[rows], k, seed))
