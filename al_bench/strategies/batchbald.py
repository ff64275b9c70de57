"""``batchbald``: BatchBALD (Kirsch, van Amersfoort & Gal, NeurIPS 2019), greedy joint mutual
information from the head's K consistent MC-dropout passes.

BALD scores each item alone, so a batch of near-duplicates all score high. BatchBALD picks the
batch greedily by the mutual information of its labels jointly with the parameters: the n-th
pick maximizes the gain

    I(y_1..n; θ) − I(y_1..n−1; θ) = H[y | y_1..n−1] − E_θ H[y | θ],

from the joint of the picked items' labels over configurations s of their classes: with
weights w_sk ∝ Π_i p_k(y_i = s_i) (normalized over the K samples) and π_s the configuration's
probability,

    gain = Σ_s π_s (H[Σ_k w_sk p_k(y)] − Σ_k w_sk H[p_k(y)]),

a Jensen–Shannon divergence per configuration (the two forms are equal where the configurations
are enumerated, since Σ_s π_s w_sk = 1/K). A configuration that has singled out one sample
contributes nothing and is skipped.

While the C^(n−1) configurations fit in ``samples``, they are all enumerated (π = their joint
probability): exact. Beyond, ``samples`` configurations are drawn — ``samples`` / K per posterior
sample k, each class y_i ~ p_k(y_i) — with the strategy's stream, and π is uniform: an unbiased
estimate, as the reference implementation's. Each configuration gets one more draw when a pick
is added (the same distribution as drawing them all again, at O(samples · K) per pick), and the
weights live in log space, so a batch of hundreds never underflows.

The greedy maximization is lazy (Minoux): the gain is submodular (entropy is, the conditional
term is modular), so a gain computed at an earlier pick bounds the current one from above and
only the candidates whose bound beats the best fresh gain are evaluated again. In the exact
regime this picks what evaluating every candidate at every pick picks; in the sampled regime the
bounds are estimates (``bench/README.md`` says how the picks compare).

Cost: O(U · K · C) for the first pick (BALD); then per evaluated candidate O(S · K · C) with S
the configurations (at most ``samples``).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from . import PoolView, register

__all__ = ["batchbald", "batchbald_select"]

_FLOOR = 1e-300  # a probability's floor before its log (0 · log 0 = 0)


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(np.log(np.maximum(p, _FLOOR)) * p).sum(-1)


class _Joint:
    """The picked items' label configurations: log Π_i p_k(y_i = s_i) for every configuration s
    and sample k (S, K), and the configurations' probabilities π (S,)."""

    def __init__(self, k: int, samples: int, rng: np.random.Generator) -> None:
        self.k, self.samples, self.rng = k, samples, rng
        self.log_joint = np.zeros((1, k))
        self.pi = np.ones(1)
        self.exact = True
        self.picked: list[np.ndarray] = []  # (K, C) probabilities of each pick
        self.owner: np.ndarray | None = None  # sampled regime: the posterior sample each configuration was drawn from
        self._kept: tuple[np.ndarray, np.ndarray] | None = None  # (weights, π) of the informative configurations

    def weights(self) -> np.ndarray:
        """(S, K): w_sk = p(s | θ_k) / Σ_k' p(s | θ_k')."""
        lj = self.log_joint - self.log_joint.max(axis=1, keepdims=True)
        w = np.exp(lj)
        return w / w.sum(axis=1, keepdims=True)

    def add(self, probs: np.ndarray) -> None:
        """Add a pick's (K, C) probabilities."""
        log_p = np.log(np.maximum(probs, _FLOOR))  # (K, C)
        self.picked.append(probs)
        self._kept = None
        c = probs.shape[1]
        if self.exact and self.log_joint.shape[0] * c <= self.samples:
            self.log_joint = (self.log_joint[:, None, :] + log_p.T[None, :, :]).reshape(-1, self.k)
            lse = np.logaddexp.reduce(self.log_joint, axis=1) - np.log(self.k)  # log mean_k p(s | θ_k)
            self.pi = np.exp(lse)
            self.pi /= self.pi.sum()
            return
        if self.exact:  # switch: draw every configuration of the picks so far
            self.exact = False
            per = max(1, self.samples // self.k)
            self.owner = np.repeat(np.arange(self.k), per)
            self.log_joint = np.zeros((self.owner.size, self.k))
            self.pi = np.full(self.owner.size, 1.0 / self.owner.size)
            for p in self.picked:
                self._draw(p)
        else:
            self._draw(probs)

    def _draw(self, probs: np.ndarray) -> None:
        """One more class per configuration, y ~ p_{owner}(y), and its log-probability under every sample."""
        cum = np.cumsum(probs, axis=1)
        cum /= cum[:, -1:]
        u = self.rng.random(self.owner.size)
        y = (u[:, None] > cum[self.owner]).sum(axis=1)
        y = np.minimum(y, probs.shape[1] - 1)
        self.log_joint += np.log(np.maximum(probs[:, y].T, _FLOOR))

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """(w, π) of the configurations that have not singled out one sample (entropy of their
        weights above 1e-10 nats): the only ones a gain reads."""
        if self._kept is None:
            w = self.weights()
            h_w = -(np.log(np.maximum(w, _FLOOR)) * w).sum(axis=1)
            keep = h_w > 1e-10
            self._kept = (w[keep], self.pi[keep])
        return self._kept

    def gains(self, probs: np.ndarray, entropies: np.ndarray) -> np.ndarray:
        """I(y; θ | picked labels) of candidates with (b, K, C) probabilities and (b, K) entropies
        H[p_k(y)]. (b,)

        Per configuration, the Jensen–Shannon divergence of the K predictions under its weights,
        H[Σ_k w_sk p_k] − Σ_k w_sk H[p_k]: equal to H[y | picked] − E_θ H[y | θ] where the
        configurations are enumerated, and zero for a configuration that has singled out one
        sample (w one-hot), so those are skipped: the ones kept carry all but at most 1e-10 nats
        (a divergence is at most the entropy of its weights).
        """
        w, pi = self.kept()  # (S, K), (S,)
        b, k, c = probs.shape
        if not len(w):
            return np.zeros(b)
        mix = (w @ probs.transpose(1, 0, 2).reshape(k, b * c)).reshape(-1, b, c)  # (S, b, C)
        return pi @ (_entropy(mix) - w @ entropies.T)


def batchbald_select(mc: np.ndarray, n: int, rng: np.random.Generator, samples: int = 10_000,
                     block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(indices (n,), gains (n,)): the greedy BatchBALD batch of ``n`` of the N items with MC
    samples ``mc`` (K, N, C), and each pick's gain in nats, in pick order.

    ``samples`` bounds the configurations (exact while C^(picks) fits); ``block`` candidates are
    evaluated together.
    """
    mc = np.asarray(mc)
    if mc.ndim != 3:
        raise ValueError(f"mc must be (K, N, C), got shape {mc.shape}")
    k, size, c = mc.shape
    n = int(n)
    if not 0 <= n <= size:
        raise ValueError(f"cannot pick n={n} items from {size}")
    probs = np.ascontiguousarray(mc.transpose(1, 0, 2), np.float64)  # (N, K, C)
    per_sample = _entropy(probs)  # (N, K): H[p_k(y)]
    bound = _entropy(probs.mean(axis=1)) - per_sample.mean(axis=1)  # BALD: the first pick's exact gains
    fresh = np.zeros(size, np.int64)  # the pick whose state a bound was computed at
    picked = np.zeros(size, bool)
    joint = _Joint(k, int(samples), rng)
    out, gains = np.empty(n, np.int64), np.empty(n, np.float64)
    for t in range(n):
        while True:
            live = np.where(picked, -np.inf, bound)
            best = int(np.argmax(live))
            if fresh[best] == t:
                break
            if not len(joint.kept()[0]):  # every configuration has singled out a sample: every gain is 0
                bound[~picked], fresh[~picked] = 0.0, t
                continue
            stale = np.flatnonzero(~picked & (fresh != t) & (bound >= live[fresh == t].max(initial=-np.inf)))
            rows = max(block, (1 << 22) // max(1, len(joint.kept()[0]) * c))  # about 32 MiB of mixtures
            if stale.size > rows:
                stale = stale[np.argpartition(-bound[stale], rows - 1)[:rows]]
            bound[stale] = joint.gains(probs[stale], per_sample[stale])
            fresh[stale] = t
        out[t], gains[t] = best, bound[best]
        picked[best] = True
        if t + 1 < n:
            joint.add(probs[best])
    return out, gains


@register("batchbald", needs={"mc"}, score="BatchBALD gain: I(y; θ | labels of the earlier picks) (nats)",
          param_ranges={"k": (2, 1000), "samples": (1, 10_000_000)})
def batchbald(view: PoolView, n: int, rng: np.random.Generator, k: int = 20,
              samples: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions by greedy BatchBALD over ``k`` passes, with each pick's gain."""
    if int(k) < 2:
        raise UserError(f"batchbald needs k >= 2 MC-dropout passes, got {k}", key="strategy.params.k")
    mc = view.mc_probs(int(k), rng)
    idx, gains = batchbald_select(mc, n, rng, int(samples))
    return view.unlabeled[idx], gains
