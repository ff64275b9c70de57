"""``epig``: expected predictive information gain (Bickford Smith, Kirsch, Farquhar, Gal, Foster &
Rainforth, "Prediction-oriented Bayesian Active Learning", AISTATS 2023).

BALD scores the information a label carries about the head's parameters, including parameters
that matter for no input the model will ever serve. EPIG scores the information it carries
about the predictions on target inputs x* drawn from the distribution the model will serve:

    EPIG(x) = E_{x*} I(y; y* | x, x*) = H[y|x] + E_{x*} H[y*|x*] − E_{x*} H[y, y* | x, x*]

with the joint predictive p(y, y* | x, x*) = (1/K) Σ_k p_k(y|x) p_k(y*|x*) over K posterior
samples: the head's consistent MC-dropout passes (the masks :mod:`.bald` uses; pass k is one
sample of the head for the pool and the targets alike).

The targets (``target``):

- ``pool`` (default): ``targets`` items drawn uniformly from the unlabeled pool each round, with
  the strategy's stream. 100, as the authors' code samples per acquisition: the score of x is a
  mean over targets, and its rank among the pool's is what counts; 100 keeps the cost at a few
  BALD computations (``bench/README.md``, *Issue 27*, compares the ranking with 1,000 targets').
- ``heldout``: inputs of the served distribution that are not in the pool — in the simulation the
  calibration split (its inputs only, never its labels), in :func:`al_bench.select` the ``target``
  features given (``al-bench-select --target-folder``); ``targets`` of them drawn uniformly when
  there are more. This is EPIG's use case: a pool that holds inputs unlike the target.

Cost: O(U · T · C² · K) multiply-adds and O(U · T · C²) logarithms for U unlabeled items and T
targets, in blocks of rows: extra memory O(block · T · C²), never (U, T, K, C, C).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError
from ..kernels.topk import top_k
from . import PoolView, register

__all__ = ["epig", "epig_scores", "TARGETS"]

TARGETS = ("pool", "heldout")
_BLOCK_ELEMENTS = 1 << 18  # joint-probability entries per block (2 MiB in float64: cache-sized, fastest here)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy over the last axis in nats; 0 · log 0 = 0 (the floor keeps log finite)."""
    return -p.clamp_min(1e-300).log_().mul_(p).sum(-1)


def epig_scores(pool: np.ndarray, target: np.ndarray) -> np.ndarray:
    """EPIG of every pool item against the mean over ``target``, in nats. (N,) float64

    ``pool`` (K, N, C) and ``target`` (K, T, C): class probabilities of the same K posterior
    samples. Computed in float64 through the joint entropy (a matrix product per block of rows).
    """
    pool, target = np.asarray(pool), np.asarray(target)
    if pool.ndim != 3 or target.ndim != 3 or pool.shape[0] != target.shape[0] or pool.shape[2] != target.shape[2]:
        raise ValueError(f"pool (K, N, C) and target (K, T, C) must share K and C; got {pool.shape} and {target.shape}")
    k, n, c = pool.shape
    t = target.shape[1]
    if t == 0:
        raise ValueError("EPIG needs at least one target input")
    q = torch.as_tensor(target, dtype=torch.float64)
    h_target = _entropy(q.mean(0)).mean()
    q = q.reshape(k, t * c)  # (K, T·C): sample k's probabilities of every (target, class)
    out = np.empty(n, np.float64)
    rows = max(1, _BLOCK_ELEMENTS // (c * t * c))
    for s in range(0, n, rows):
        p = torch.as_tensor(pool[:, s : s + rows], dtype=torch.float64)  # (K, b, C)
        b = p.shape[1]
        joint = (p.permute(1, 2, 0).reshape(b * c, k) @ q).div_(k)  # (b·C, T·C): p(y, y*) per target
        h_joint = _entropy(joint.reshape(b, c * t * c)) / t  # mean over targets of H[y, y*]
        out[s : s + b] = (_entropy(p.mean(0)) + h_target - h_joint).numpy()
    return np.maximum(out, 0.0)  # a mutual information: rounding leaves at most about -1e-11


def _target_rows(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """``limit`` of ``count`` rows drawn uniformly without replacement (all when fewer), ascending."""
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def _scores(view: PoolView, rng: np.random.Generator, k: int = 20, targets: int = 100, target: str = "pool") -> np.ndarray:
    if int(k) < 2:
        raise UserError(f"epig needs k >= 2 MC-dropout passes, got {k}", key="strategy.params.k")
    if target not in TARGETS:
        raise UserError(f"epig target must be one of {', '.join(TARGETS)}; got {target!r}", key="strategy.params.target")
    if target == "pool":
        mc = view.mc_probs(int(k), rng)
        return epig_scores(mc, mc[:, _target_rows(mc.shape[1], int(targets), rng)])
    if view.target is None or len(view.target) == 0:
        raise UserError("epig target=heldout needs held-out inputs: a calibration split in the simulation "
                        "(dataset.calibration_fraction > 0), or target features in a selection (--target-folder)",
                        key="strategy.params.target")
    rows = _target_rows(len(view.target), int(targets), rng)
    mc, mc_target = view.mc_probs_with_target(int(k), rng, rows)
    return epig_scores(mc, mc_target)


@register("epig", needs={"mc"}, score="EPIG: expected information gain about the target predictions (nats)",
          param_ranges={"k": (2, 1000), "targets": (1, 1_000_000)}, pool_scores=_scores)
def epig(view: PoolView, n: int, rng: np.random.Generator, k: int = 20, targets: int = 100,
         target: str = "pool") -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` unlabeled positions with the highest EPIG, with their scores."""
    scores = _scores(view, rng, k, targets, target)
    idx = top_k(scores, n, rng)
    return view.unlabeled[idx], scores[idx]
