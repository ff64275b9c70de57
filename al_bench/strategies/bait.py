"""``bait``: BAIT (Ash, Goel, Krishnamurthy & Kakade, "Gone Fishing: Neural Active Learning with
Fisher Embeddings", NeurIPS 2021) for the head's last layer.

Item i's Fisher information about the last layer's weights [W, b] is X_iᵀX_i with the rank-C
Fisher embedding X_i = G_i ⊗ x_iᵀ, G_i = diag(√p_i)(I − 1p_iᵀ) (x_i with a trailing 1 for the bias;
G_iᵀG_i = diag(p_i) − p_ip_iᵀ, the softmax's Hessian). BAIT picks the batch B that minimizes
tr((λI + Σ_{labeled ∪ B} X_iᵀX_i)⁻¹ F) with F the pool's mean Fisher (labeled and unlabeled):
the expected error of the head's predictions on the pool. As the authors' code:

- the labeled items' mean Fisher is weighted L/(L+n) and each candidate's n/(L+n) (L labeled);
- greedy forward selection of ``oversample`` × n items (2 as the paper), each the largest
  decrease of the objective, by rank-C (Woodbury) updates of the inverse M;
- backward pruning to n: remove, one at a time, the item whose removal increases it least.

The objective is never formed per candidate. With x̂_i = I_C ⊗ x_i, every candidate carries the
C × C matrices Ŝ_i = x̂_iᵀ M x̂_i and B̂_i = x̂_iᵀ M F M x̂_i, and the change of the objective from
adding (σ = 1) or removing (σ = −1) item i is σ tr(B̂_i H_i (I + σ Ŝ_i H_i)⁻¹) with H_i the
scaled softmax Hessian (push-through identity). A pick updates M, M F M and every candidate's
Ŝ, B̂ by rank-C products. Cost, with D = d + 1 and U unlabeled: O(N · C² · D²) for F and the
first Ŝ, B̂; O(U · C² · D + (C · D)² · C) per forward step; memory 3 (C · D)² + 2 U · C² floats
(float64) and 256 MiB blocks: at 50,000 × 384 × 10, 355 MB + 80 MB, 756 MB extra peak measured
(``bench/README.md``, with the time: about 20 minutes for a batch of 500 on 2 cores).

``dim`` > 0 first projects the embeddings onto their ``dim`` leading principal components
(over the whole pool, deterministic), dividing the cost by about (d / dim)²; a pool whose
(C · D)² matrices would not fit in memory is refused up front, naming this way out.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import UserError
from . import PoolView, register

__all__ = ["bait", "bait_select", "fisher_matrix", "memory_bytes"]

_ROW_BYTES = 1 << 28  # rows of a (rows, C · D) temporary per block: 256 MiB


def _hessians(p: np.ndarray) -> np.ndarray:
    """(N, C, C): diag(p) − p pᵀ."""
    h = -p[:, :, None] * p[:, None, :]
    idx = np.arange(p.shape[1])
    h[:, idx, idx] += p
    return h


def fisher_matrix(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_i (diag(p_i) − p_ip_iᵀ) ⊗ x_ix_iᵀ: (C · D, C · D), index c · D + a. ``p`` (N, C), ``x`` (N, D)."""
    n, c = p.shape
    d = x.shape[1]
    out = np.zeros((c, d, c, d))
    h = _hessians(p)
    for a in range(c):
        for b in range(a, c):
            blk = (x * h[:, a, b][:, None]).T @ x
            out[a, :, b, :] = blk
            out[b, :, a, :] = blk.T
    return out.reshape(c * d, c * d)


def _block_forms(mat: np.ndarray, x: np.ndarray, c: int) -> np.ndarray:
    """(N, C, C): x̂_iᵀ mat x̂_i for every row x_i of ``x`` (N, D), ``mat`` (C · D, C · D)."""
    n, d = x.shape
    out = np.empty((n, c, c))
    rows = max(1, _ROW_BYTES // (8 * c * d))
    for s in range(0, n, rows):
        xs = x[s : s + rows]
        for a in range(c):
            r = (xs @ mat[a * d : (a + 1) * d, :]).reshape(len(xs), c, d)
            out[s : s + rows, a, :] = np.einsum("icd,id->ic", r, xs)
    return out


def memory_bytes(n_items: int, d: int, c: int) -> int:
    """Peak extra memory of :func:`bait_select` on ``n_items`` candidates, d features, C classes."""
    cd = c * (d + 1)
    return 8 * (4 * cd * cd + 4 * n_items * c * c) + _ROW_BYTES


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _changes(s_hat: np.ndarray, b_hat: np.ndarray, h: np.ndarray, sigma: float) -> np.ndarray:
    """σ tr(B̂ H (I + σ Ŝ H)⁻¹) per row: the decrease of the objective from adding (σ = 1) the
    item, or minus its increase from removing it (σ = −1)."""
    eye = np.eye(h.shape[1])
    lhs = torch.as_tensor(eye + sigma * (s_hat @ h))
    # tr(B̂ H K⁻¹) = tr(K⁻¹ B̂ H) with K = I + σ Ŝ H
    sol = torch.linalg.solve(lhs, torch.as_tensor(b_hat @ h)).numpy()
    return sigma * np.trace(sol, axis1=1, axis2=2)


def bait_select(p: np.ndarray, x: np.ndarray, p_labeled: np.ndarray, x_labeled: np.ndarray, n: int,
                lamb: float = 1.0, oversample: float = 2.0, n_pool: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, gains): the rows of the candidates (``p`` (U, C) probabilities, ``x`` (U, D)
    last-layer inputs) that BAIT picks, ``n`` of them, in the order they were added, and the
    decrease of the objective each gave when the forward pass added it.

    ``p_labeled``, ``x_labeled``: the labeled items'. The pool Fisher F is over the candidates and
    the labeled items (``n_pool`` their number, default U + L). Float64 throughout.
    """
    p, x = np.asarray(p, np.float64), np.asarray(x, np.float64)
    pl, xl = np.asarray(p_labeled, np.float64).reshape(-1, p.shape[1]), np.asarray(x_labeled, np.float64).reshape(-1, x.shape[1])
    u, c = p.shape
    d = x.shape[1]
    n = int(n)
    if not 0 <= n <= u:
        raise ValueError(f"cannot pick n={n} items from {u}")
    if n == 0:
        return np.empty(0, np.int64), np.empty(0)
    big = min(u, max(n, int(round(float(oversample) * n))))
    n_lab = len(pl)
    total = (u + n_lab) if n_pool is None else int(n_pool)
    f_lab = fisher_matrix(pl, xl) if n_lab else np.zeros((c * d, c * d))
    fisher = (fisher_matrix(p, x) + f_lab) / total
    a = float(lamb) * np.eye(c * d) + f_lab * (1.0 / (n_lab + n))  # the labeled mean Fisher, weighted L / (L + n)
    m = np.linalg.inv(a)
    m = (m + m.T) / 2
    mfm = m @ fisher @ m
    s_hat, b_hat = _block_forms(m, x, c), _block_forms(mfm, x, c)
    h = _hessians(p) * (n / (n_lab + n))  # the candidates' weight n / (L + n), on both Fisher factors

    # M and M F M stay implicit: the round's first M₀, P₀ = M₀ F M₀ minus the rank-C terms of every
    # update so far (M = M₀ − Σ Y Q Yᵀ, M F M = P₀ − Σ [Y Z] G [Y Z]ᵀ), so a step reads M₀ and P₀
    # once instead of rewriting two (C·D)² matrices
    m_terms: list[tuple[np.ndarray, np.ndarray]] = []  # (Y, Y Q)
    p_terms: list[tuple[np.ndarray, np.ndarray]] = []  # ([Y Z], [Y Z] G)

    def apply(base: np.ndarray, terms: list, xj: np.ndarray) -> np.ndarray:
        """(base − Σ A Bᵀ) x̂_j for terms (B, A): (C·D, C)."""
        out = np.einsum("kcd,d->kc", base.reshape(c * d, c, d), xj)
        for left, right in terms:
            out -= right @ (left.reshape(c, d, -1).transpose(2, 0, 1) @ xj)  # right · (leftᵀ x̂_j), (r, C)
        return out

    def commit(j: int, sigma: float, rows: np.ndarray | slice) -> None:
        """Add (σ = 1) or remove (σ = −1) candidate j: M ← M − Y Q Yᵀ, and the state of ``rows``."""
        xj = x[j]
        y = apply(m, m_terms, xj)  # M x̂_j (C·D, C)
        z = apply(mfm, p_terms, xj)  # M F M x̂_j
        k = np.eye(c) + sigma * s_hat[j] @ h[j]
        q = sigma * h[j] @ np.linalg.inv(k)  # σ H (I + σ Ŝ H)⁻¹, symmetric
        q = (q + q.T) / 2
        bj = b_hat[j].copy()
        yq = y @ q
        qbq = q @ bj @ q
        m_terms.append((y, yq))
        # M F M − (Y Q Zᵀ + Z Q Yᵀ − Y Q B̂_j Q Yᵀ) = M F M − [Y Z] [[−Q B̂ Q, Q], [Q, 0]] [Y Z]ᵀ
        yz = np.concatenate([y, z], axis=1)
        p_terms.append((yz, yz @ np.block([[-qbq, q], [q, np.zeros_like(q)]])))
        xr = x[rows]
        v = (xr @ y.reshape(c, d, c).transpose(1, 0, 2).reshape(d, c * c)).reshape(-1, c, c)
        w = (xr @ z.reshape(c, d, c).transpose(1, 0, 2).reshape(d, c * c)).reshape(-1, c, c)
        vq = v @ q
        s_hat[rows] -= vq @ v.transpose(0, 2, 1)
        wqv = w @ q @ v.transpose(0, 2, 1)
        b_hat[rows] += -wqv - wqv.transpose(0, 2, 1) + (vq @ bj) @ vq.transpose(0, 2, 1)

    chosen: list[int] = []
    added = np.zeros(u)
    taken = np.zeros(u, bool)
    for _ in range(big):  # forward: the largest decrease
        gain = _changes(s_hat, b_hat, h, 1.0)
        gain[taken] = -np.inf
        j = int(np.argmax(gain))
        added[j] = gain[j]
        chosen.append(j)
        taken[j] = True
        commit(j, 1.0, slice(None))
    while len(chosen) > n:  # backward: the smallest increase
        rows = np.asarray(chosen)
        change = _changes(s_hat[rows], b_hat[rows], h[rows], -1.0)
        drop = int(np.argmax(change))
        commit(chosen[drop], -1.0, rows)
        del chosen[drop]
    rows = np.asarray(chosen, np.int64)
    return rows, added[rows]


def _project(xb_all: np.ndarray, dim: int) -> np.ndarray:
    """``xb_all`` (rows, d + 1) with its features replaced by their ``dim`` leading principal components."""
    feats = xb_all[:, :-1].astype(np.float64)
    centered = feats - feats.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    basis = vt[: int(dim)]
    basis *= np.where(basis[np.arange(len(basis)), np.abs(basis).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]  # fixed signs
    return np.concatenate([centered @ basis.T, xb_all[:, -1:]], axis=1)


@register("bait", needs={"probs", "grad"},
          score="decrease of tr((lamb I + Fisher of the labeled and the batch)^-1 F) when the forward pass added it",
          param_ranges={"lamb": (1e-12, 1e12), "oversample": (1.0, 10.0), "dim": (0, 100_000)})
def bait(view: PoolView, n: int, rng: np.random.Generator, lamb: float = 1.0, oversample: float = 2.0,
         dim: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions by BAIT's forward-backward Fisher selection."""
    p = view.probs()
    _, xb = view.gradient_factors()
    if view.labeled.size:
        p_lab = view.probs(view.labeled)
        _, xb_lab = view.gradient_factors(view.labeled)
    else:
        p_lab, xb_lab = np.empty((0, p.shape[1])), np.empty((0, xb.shape[1]))
    if int(dim) > 0 and int(dim) < xb.shape[1] - 1:
        both = _project(np.concatenate([xb_lab, xb]), int(dim))
        xb_lab, xb = both[: len(xb_lab)], both[len(xb_lab):]
    c, dd = p.shape[1], xb.shape[1] - 1
    need, have = memory_bytes(len(p), dd, c), _available_bytes()
    if have is not None and need > have:
        raise UserError(f"bait at {len(p):,} candidates x {dd} features x {c} classes needs about {need / 2**30:.1f} GiB "
                        f"({c * (dd + 1):,}^2 Fisher matrices), {have / 2**30:.1f} GiB is available: set "
                        f"strategy.params.dim (a PCA dimension, e.g. 64) to shrink it", key="strategy.params.dim")
    picks, gains = bait_select(p, xb, p_lab, xb_lab, n, float(lamb), float(oversample))
    return view.unlabeled[picks], gains
