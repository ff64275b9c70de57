"""``strategy.class_balance``: mitigations of acquisition bias that any strategy can take.

- ``fallback``: when a class is starving — fewer labels than a quarter of its estimated share of
  the labeled set — part of the batch (at most half) is a draw aimed at it: uniform among the
  candidates the model predicts as that class. The rest is the strategy's.
- ``predicted``: the batch is split into quotas per predicted class (equal, the remainder to the
  classes with the fewest labels first; a class with too few candidates passes its share on),
  and the strategy picks each quota among the candidates predicted as that class.

Both estimate class shares from what a real user has: the labels bought so far (``labeled_labels``,
given by the caller) and the current model's predictions on the unlabeled pool (``fallback``: its
expected counts, the sums of the calibrated probabilities; ``predicted``: its argmax classes). The view never
carries hidden labels, so neither can read them.

A strategy runs on a part of the pool through :func:`sub_view`: the labeled items and the
chosen candidates, re-indexed, with the model outputs and labeled distances mapped and no
run memo (a memoized value describes the whole pool).
"""

from __future__ import annotations

import math

import numpy as np

from ._base import PoolView
from ._select import select_batch

__all__ = ["CLASS_BALANCE", "STARVING", "balanced_batch", "sub_view", "starving_classes"]

CLASS_BALANCE = ("none", "fallback", "predicted")
STARVING = 0.25  # a class is starving below this fraction of its estimated share of the labels
MAX_FALLBACK = 0.5  # at most this share of a batch goes to starving classes


class _Remapped:
    """Model outputs for a sub-view: its positions mapped to the full pool's."""

    def __init__(self, model, keep: np.ndarray) -> None:
        self._model, self._keep = model, keep

    def probs(self, positions):
        return self._model.probs(self._keep[positions])

    def mc_probs(self, positions, k, seed):
        return self._model.mc_probs(self._keep[positions], k, seed)

    def gradient_factors(self, positions):
        return self._model.gradient_factors(self._keep[positions])

    def bald_scores(self, positions, k, seed):
        return self._model.bald_scores(self._keep[positions], k, seed)

    def __getattr__(self, name):  # optional methods (feature_dropout_probs) only where the model has them
        run = getattr(self._model, name)
        if name == "feature_dropout_probs":
            return lambda positions, *a: run(self._keep[positions], *a)
        return run


def sub_view(view: PoolView, candidates: np.ndarray) -> tuple[PoolView, np.ndarray]:
    """(a view of the labeled items and ``candidates`` only, the map from its positions back to
    ``view``'s). Labeled items keep their purchase order."""
    keep = np.union1d(view.labeled, candidates).astype(np.int64)
    inv = np.full(len(view.embeddings), -1, np.int64)
    inv[keep] = np.arange(keep.size)
    dist = None
    if view.distances is not None:
        full = view.distances

        def dist():
            d, near = full()
            near = near[keep]
            return d[keep], np.where(near >= 0, inv[np.maximum(near, 0)], -1)

    model = None if view.model is None else _Remapped(view.model, keep)
    sub = PoolView(np.ascontiguousarray(view.embeddings[keep]), inv[view.labeled], inv[np.sort(candidates)],
                   view.n_classes, view.round, model, dist, None, view.decisions, view.labels, view.target)
    return sub, keep


def starving_classes(counts: np.ndarray, predicted: np.ndarray, n_labeled: int) -> tuple[np.ndarray, np.ndarray]:
    """(estimated share of every class, starving classes): the share from the labels bought and
    the (expected) predicted counts on the unlabeled pool; starving: fewer labels than ``STARVING`` × its share
    of the labeled set, where that share is at least one label."""
    share = (counts + predicted) / max(1.0, float(counts.sum() + predicted.sum()))
    expected = share * n_labeled
    return share, np.flatnonzero((expected >= 1) & (counts < STARVING * expected))


def balanced_batch(name: str, view: PoolView, n: int, rng: np.random.Generator, random_fraction: float,
                   params: dict, mode: str, labeled_labels: np.ndarray, sampling: str = "topk",
                   beta: float = 1.0) -> tuple[np.ndarray, list[str]]:
    """(positions (n,), the source of each: ``strategy``, ``random`` or ``balance``) of one batch
    with class balance ``mode`` (:data:`CLASS_BALANCE`). ``labeled_labels``: the class code of
    each of ``view.labeled``, in the same order."""
    def plain(v: PoolView, k: int, rf: float):
        picks, own = select_batch(name, v, k, rng, rf, params, sampling=sampling, beta=beta, checked=True)
        return picks, ["strategy" if o else "random" for o in own.tolist()]

    if mode == "none" or view.model is None:
        return plain(view, n, random_fraction)
    c = view.n_classes
    probs = view.probs()
    pred = probs.argmax(1)
    counts = np.bincount(np.asarray(labeled_labels, np.int64), minlength=c)
    if mode == "fallback":
        # expected counts under the calibrated model (sums of probabilities), not argmax counts:
        # a head that has seen a class once rarely predicts it, so argmax counts hide the tail
        share, starving = starving_classes(counts, probs.sum(0), view.labeled.size)
        after = view.labeled.size + n
        deficit = {int(k): max(1, math.ceil(STARVING * share[k] * after) - int(counts[k])) for k in starving}
        m = min(sum(deficit.values()), int(n * MAX_FALLBACK))
        quota = _round_robin(sorted(deficit, key=lambda k: (counts[k] / max(share[k], 1e-12), k)), deficit, m)
        chosen: list[int] = []
        for k, q in quota.items():
            pool = view.unlabeled[(pred == k) & ~np.isin(view.unlabeled, chosen)]
            take = rng.choice(pool, size=min(q, pool.size), replace=False) if pool.size else np.empty(0, np.int64)
            if take.size < q:  # too few predicted as k: the most probable k among the rest
                rest = view.unlabeled[~np.isin(view.unlabeled, np.concatenate([chosen, take]))]
                p_k = view.model.probs(rest)[:, k]
                take = np.concatenate([take, rest[np.argsort(-p_k, kind="stable")[: q - take.size]]])
            chosen += [int(i) for i in take]
        if not chosen:
            return plain(view, n, random_fraction)
        sub, keep = sub_view(view, np.setdiff1d(view.unlabeled, chosen))
        picks, sources = plain(sub, n - len(chosen), random_fraction)
        return np.concatenate([keep[picks], np.asarray(chosen, np.int64)]), sources + ["balance"] * len(chosen)
    # predicted: quotas per predicted class, the strategy within each
    n_random = int(round(random_fraction * n))
    present = [int(k) for k in np.unique(pred)]
    order = sorted(present, key=lambda k: (counts[k], k))
    avail = {k: int((pred == k).sum()) for k in present}
    quota = _round_robin(order, avail, n - n_random)
    picks, sources = [], []
    for k in order:
        if quota.get(k, 0) == 0:
            continue
        sub, keep = sub_view(view, view.unlabeled[pred == k])
        p, s = plain(sub, quota[k], 0.0)
        picks.append(keep[p])
        sources += s
    picks = np.concatenate(picks) if picks else np.empty(0, np.int64)
    if n_random:
        rest = np.setdiff1d(view.unlabeled, picks)
        picks = np.concatenate([picks, rng.choice(rest, size=n_random, replace=False)])
        sources += ["random"] * n_random
    return picks.astype(np.int64), sources


def _round_robin(order: list[int], cap: dict[int, int], total: int) -> dict[int, int]:
    """``total`` units dealt one at a time over ``order`` (repeatedly), none beyond its ``cap``."""
    out = {k: 0 for k in order}
    left = int(total)
    while left > 0 and any(out[k] < cap[k] for k in order):
        for k in order:
            if left == 0:
                break
            if out[k] < cap[k]:
                out[k] += 1
                left -= 1
    return out
