"""Pick the next batch to label from real data: the library API behind ``al-bench-select``.

:func:`select` runs any registered strategy (the same functions the simulation runs) on
features the caller has, with ids that stay attached from source to hand-off::

    sel = al_bench.select(ids, features, 50, strategy="kcenter", labeled=["a.jpg", "b.jpg"])
    sel.ids        # picked ids, most wanted first
    sel.frame()    # rank, id, score, strategy

Model outputs come from the caller (``probs`` (N, C), or MC-dropout samples (K, N, C) for
``bald``) or from a linear head trained here on the labeled items' features (``labels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from . import scores as S
from .errors import UserError

__all__ = ["Selection", "select", "select_top", "SCORE_MEANING"]

# what Selection.scores holds for each strategy (higher = wanted more, except distances, which
# shrink along a k-center order); strategies not listed get NaN
SCORE_MEANING = {
    "entropy": "predictive entropy (nats)",
    "margin": "1 - (p1 - p2)",
    "least_confidence": "1 - max p",
    "bald": "BALD mutual information (nats)",
    "kcenter": "distance to the nearest labeled or earlier pick (embedding units)",
    "hybrid": "distance to the nearest labeled or earlier pick (embedding units)",
    "badge": "gradient-embedding norm |p - onehot(y)| * |[x, 1]|",
    "random": "none (uniform)",
}
MODEL_FREE = ("random", "kcenter")  # registered strategies that never ask for model outputs
# strategies that, given model outputs, never read the features
FEATURE_FREE_WITH_OUTPUTS = ("random", "entropy", "margin", "least_confidence", "bald")
WARM_ROUND = 10**6  # a view with model outputs counts as past every cold-start round


@dataclass(frozen=True)
class Selection:
    """Picked ids in pick order, with the strategy's own score for each pick."""

    ids: tuple[str, ...]
    scores: np.ndarray  # (n,) float64; meaning in SCORE_MEANING; NaN where the strategy has none
    strategy: str
    params: dict[str, Any]  # strategy parameters and options as used (seed, random_fraction …)
    positions: np.ndarray = field(repr=False)  # (n,) indices into the ``ids`` given to select()
    by_strategy: np.ndarray = field(repr=False)  # (n,) False for the uniform random share
    stopped: str = "n"  # "n", or "min_distance" when k-center stopped early

    def __len__(self) -> int:
        return len(self.ids)

    def frame(self):
        """A pandas DataFrame: rank (1-based), id, score, strategy, by_strategy."""
        import pandas as pd

        return pd.DataFrame({"rank": np.arange(1, len(self.ids) + 1), "id": list(self.ids),
                             "score": self.scores, "strategy": self.strategy,
                             "by_strategy": self.by_strategy})


class _Outputs:
    """Model outputs for a PoolView (the ``ModelAccess`` protocol), from given arrays or from a
    head that ``train_head()`` fits on first use (strategies that never ask train nothing)."""

    def __init__(self, x: np.ndarray, probs: np.ndarray | None, mc: np.ndarray | None, train_head=None) -> None:
        self.x, self._probs, self._mc, self._train = x, probs, mc, train_head
        self._head = None
        self.last_mc: tuple[np.ndarray, np.ndarray] | None = None  # (positions, samples) last handed out

    @property
    def head(self):
        if self._head is None and self._train is not None:
            self._head = self._train()
        return self._head

    @property
    def head_trained(self) -> bool:
        return self._head is not None

    def probs(self, positions: np.ndarray) -> np.ndarray:
        if self._train is not None:
            return self.head.predict_proba(self.x[positions])
        return self._probs[positions]

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        if self._train is not None:
            out = self.head.sample_proba(self.x[positions], k, seed)
        elif self._mc is not None:
            out = self._mc[:, positions]
        else:
            raise UserError("this strategy needs MC-dropout samples: give probs of shape (K, N, C) "
                            "(K stochastic passes), or labels to train a head here")
        self.last_mc = (np.asarray(positions), out)
        return out

    def gradient_factors(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._train is not None:
            return self.head.gradient_factors(self.x[positions])
        p = self._probs[positions]
        a = p.copy()
        a[np.arange(len(p)), p.argmax(axis=1)] -= 1.0
        xb = np.concatenate([self.x[positions].astype(np.float64), np.ones((len(positions), 1))], axis=1)
        return a, xb


def _positions(ids: Sequence[str], which: Sequence[str] | np.ndarray | None, what: str) -> np.ndarray:
    """Indices of ``which`` (ids, or a boolean mask over ``ids``) in ``ids``; unknown ids fail."""
    if which is None:
        return np.empty(0, np.int64)
    w = np.asarray(which)
    if w.dtype == bool:
        if w.shape != (len(ids),):
            raise UserError(f"{what}: a boolean mask must have one entry per id ({len(ids)}), got {w.shape}")
        return np.flatnonzero(w)
    index = {s: i for i, s in enumerate(ids)}
    missing = [str(s) for s in w.tolist() if str(s) not in index]
    if missing:
        raise UserError(f"{what}: {len(missing)} id(s) are not among the {len(ids)} ids (first: "
                        f"{', '.join(missing[:5])})")
    return np.unique(np.array([index[str(s)] for s in w.tolist()], np.int64))


def _check_outputs(probs, n_items: int, ids: Sequence[str], rows: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(probs (N, C), mc (K, N, C) or None), validated on ``rows``; errors name the bad ids."""
    if probs is None:
        return None, None
    p = np.asarray(probs)
    if p.ndim not in (2, 3) or p.shape[-2] != n_items:
        raise UserError(f"probs must be (N, C) or MC samples (K, N, C) with N = {n_items} (one row per id), "
                        f"got shape {p.shape}")
    sub = p[..., rows, :]
    try:
        S.check_probs(sub, "probs", ndim=p.ndim)
    except ValueError:
        flat = sub.reshape(-1, sub.shape[-2], sub.shape[-1]) if p.ndim == 3 else sub[None]
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(flat).all(-1) & (flat >= 0).all(-1) & (np.abs(flat.sum(-1) - 1) <= 1e-3))
        bad_rows = rows[np.flatnonzero(bad.any(0))]
        names = ", ".join(f"{ids[i]} (sum {float(np.nansum(p[..., i, :].reshape(-1, p.shape[-1])[0])):.4g})"
                          for i in bad_rows[:5])
        raise UserError(f"probs: {bad_rows.size} row(s) are not probabilities (non-negative, finite, summing "
                        f"to 1): {names}") from None
    if p.ndim == 3:
        return p.mean(axis=0), p.astype(np.float32, copy=False)
    return p.astype(np.float64, copy=False), None


def _pick_distances(x: np.ndarray, picks: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pick to the nearest labeled item or earlier pick. (n,)"""
    from .selectors import nearest_center

    if labeled.size:
        d, _ = nearest_center(x[picks], x[labeled])
    else:
        d = np.full(picks.size, np.inf, np.float32)
    d = d.astype(np.float64)
    xp = x[picks].astype(np.float64)
    sq = np.einsum("ij,ij->i", xp, xp)
    for s in range(0, picks.size, 1024):  # earlier picks: a (block × n) slab at a time
        blk = sq[s : s + 1024, None] + sq[None, :] - 2.0 * (xp[s : s + 1024] @ xp.T)
        rows = np.arange(s, min(s + 1024, picks.size))
        blk[rows[:, None] <= np.arange(picks.size)[None, :]] = np.inf  # only earlier picks count
        d[rows] = np.minimum(d[rows], blk.min(axis=1))
    return np.sqrt(np.maximum(d, 0.0))


def select(
    ids: Sequence[str],
    features: np.ndarray,
    n: int,
    strategy: str = "kcenter",
    labeled: Sequence[str] | np.ndarray | None = None,
    probs: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    labels: Sequence[Any] | Mapping[str, Any] | None = None,
    candidates: Sequence[str] | np.ndarray | None = None,
    random_fraction: float = 0.0,
    min_distance: float | None = None,
    **params: Any,
) -> Selection:
    """Pick ``n`` of ``ids`` to label next with registered strategy ``strategy``.

    - ``features`` (N, d): one embedding per id (diversity strategies work on these).
    - ``labeled``: ids (or a boolean mask) already labeled; they seed k-center/hybrid and are
      never picked.
    - ``probs``: model outputs, one row per id: (N, C) probabilities, or (K, N, C) MC-dropout
      samples (needed by ``bald``; their mean serves the others). Rows of labeled and excluded
      items are not read. Without ``probs``, ``labels`` (one per labeled id, same order, or an
      id → label mapping) train a linear head on the labeled features here (dropout 0.1,
      temperature 1: too few labels to calibrate on), which then serves every strategy.
    - ``rng``: a Generator or an int seed (default 0): the same inputs give the same picks.
    - ``candidates``: ids (or mask) that may be picked (default: every unlabeled id); others are
      neither picked nor used as centers — e.g. images dropped by a brightness filter.
    - ``random_fraction``: share of the batch drawn uniformly (as in the simulation).
    - ``min_distance`` (kcenter only): stop early once the farthest remaining candidate is closer
      than this (Euclidean, in embedding units) to every labeled item and earlier pick.
    - ``params``: the strategy's own parameters (e.g. ``k`` for bald, ``shortlist_factor``).

    BADGE with given ``probs`` uses the gradient of a linear head on ``features`` with those
    probabilities, (p − onehot(ŷ)) ⊗ [x, 1], as the simulation does for its head.
    """
    from .strategies import PoolView, check_params, select_batch

    ids = [str(s) for s in ids]
    x = np.asarray(features)
    if x.ndim != 2 or len(x) != len(ids):
        raise UserError(f"features must be (N, d) with one row per id (N = {len(ids)}), got shape {x.shape}")
    if len(set(ids)) != len(ids):
        from collections import Counter

        dup = sorted(s for s, c in Counter(ids).items() if c > 1)[:5]
        raise UserError(f"ids must be unique; repeated: {', '.join(dup)}")
    check_params(strategy, params)
    seed = None
    if rng is None or isinstance(rng, (int, np.integer)):
        seed = 0 if rng is None else int(rng)
        rng = np.random.default_rng(seed)
    lab = _positions(ids, labeled, "labeled")
    cand = _positions(ids, candidates, "candidates") if candidates is not None else np.arange(len(ids))
    cand = np.setdiff1d(cand, lab)
    n = int(n)
    if not 0 < n <= cand.size:
        raise UserError(f"cannot pick n={n}: {cand.size} candidate(s) left (of {len(ids)} ids, {lab.size} labeled)")
    if min_distance is not None and strategy != "kcenter":
        raise UserError(f"min_distance is a k-center stop; strategy {strategy!r} has no such criterion")
    random_fraction = float(random_fraction)
    if not (np.isfinite(random_fraction) and 0.0 <= random_fraction <= 1.0):
        raise UserError(f"random_fraction={random_fraction}: give a share of the batch in [0, 1]")
    if min_distance is not None and random_fraction > 0:
        raise UserError("min_distance stops k-center early; it cannot be combined with a random share "
                        "(random_fraction > 0)")
    if labels is not None and not isinstance(labels, Mapping):
        given = [ids[i] for i in np.flatnonzero(np.asarray(labeled))] if np.asarray(labeled).dtype == bool \
            else [str(v) for v in (labeled if labeled is not None else [])]
        labels = list(labels)
        if len(labels) != len(given):
            raise UserError(f"labels: {len(labels)} given for {len(given)} labeled ids")
        labels = dict(zip(given, labels))  # paired in the caller's order, whatever order lab ends in

    keep = np.concatenate([lab, cand])  # the view's pool: labeled first, then candidates
    order = np.argsort(keep, kind="stable")
    keep = keep[order]
    pos_lab = np.flatnonzero(np.isin(keep, lab))
    pos_unl = np.flatnonzero(~np.isin(keep, lab))
    xv = np.ascontiguousarray(x[keep], np.float32)
    p, mc = _check_outputs(probs, len(ids), ids, cand)
    outputs, n_classes = None, 0
    if p is not None:
        outputs, n_classes = _Outputs(xv, p[keep], None if mc is None else mc[:, keep]), p.shape[1]
    elif labels is not None:
        outputs = _Outputs(xv, None, None, lambda: _train_head(xv, pos_lab, _label_codes(ids, lab, labels)))
        n_classes = len({str(v) for v in labels.values()})
    view = PoolView(xv, pos_lab, pos_unl, n_classes, 0 if outputs is None else WARM_ROUND, outputs)
    try:
        picks, by_strategy = select_batch(strategy, view, n, rng, random_fraction, params)
    except RuntimeError as exc:
        if "needs model outputs" not in str(exc):
            raise
        raise UserError(f"strategy {strategy!r} needs model outputs: give predictions (probs, or MC samples "
                        f"(K, N, C) for bald), or labeled ids with their labels so a head can be trained "
                        f"on their features") from None
    except (ValueError, TypeError) as exc:  # a strategy rejecting a parameter value
        if isinstance(exc, UserError):
            raise
        raise UserError(f"strategy {strategy!r} with parameters {params}: {exc}") from None
    sc = _scores(strategy, view, outputs, picks)
    stopped = "n"
    if min_distance is not None:
        below = np.flatnonzero(sc < float(min_distance))
        if below.size:
            cut = int(below[0])
            picks, by_strategy, sc, stopped = picks[:cut], by_strategy[:cut], sc[:cut], "min_distance"
    used = {**params, "random_fraction": float(random_fraction)}
    if seed is not None:
        used["seed"] = seed
    if min_distance is not None:
        used["min_distance"] = float(min_distance)
    if mc is not None and strategy == "bald":
        used["k"] = int(mc.shape[0])
    if outputs is not None and outputs.head_trained:
        used["model"] = "linear head trained on the labeled features (seed 0)"
    positions = keep[picks]
    return Selection(tuple(ids[i] for i in positions), sc, strategy, used, positions, by_strategy, stopped)


def _label_codes(ids: list[str], lab: np.ndarray, labels: Mapping) -> np.ndarray:
    """Class codes (sorted label names) of the labeled positions ``lab``, from an id → label map."""
    missing = [ids[i] for i in lab if ids[i] not in labels]
    if missing:
        raise UserError(f"labels: no label for {len(missing)} labeled id(s) (first: {', '.join(missing[:5])})")
    names, y = np.unique(np.asarray([str(labels[ids[i]]) for i in lab]), return_inverse=True)
    if names.size < 2:
        raise UserError(f"labels: a head needs at least 2 classes among the labeled items, got {names.tolist()}")
    return y


def _train_head(xv: np.ndarray, pos_lab: np.ndarray, y: np.ndarray):
    """The simulation's linear head (default settings, seed 0) fitted on the labeled features."""
    from .model import HeadSettings, LinearHead

    return LinearHead(xv.shape[1], int(y.max()) + 1, HeadSettings(), 0).fit(xv[pos_lab], y)


def _scores(strategy: str, view, outputs: _Outputs | None, picks: np.ndarray) -> np.ndarray:
    """Each pick's score under the strategy's own criterion (see SCORE_MEANING)."""
    if strategy in ("kcenter", "hybrid"):
        return _pick_distances(view.embeddings, picks, view.labeled)
    if outputs is None or strategy not in SCORE_MEANING or strategy == "random":
        return np.full(picks.size, np.nan)
    if strategy in ("entropy", "margin", "least_confidence"):
        return getattr(S, strategy)(outputs.probs(picks))
    if strategy == "bald" and outputs.last_mc is not None:
        pos, mc = outputs.last_mc
        where = {int(q): i for i, q in enumerate(pos)}
        return S.bald(mc[:, [where[int(q)] for q in picks]])
    if strategy == "badge":
        a, xb = outputs.gradient_factors(picks)
        return np.linalg.norm(a, axis=1) * np.linalg.norm(xb, axis=1)
    return np.full(picks.size, np.nan)


def select_top(
    ids: Sequence[str],
    image_scores: np.ndarray,
    n: int,
    labeled: Sequence[str] | np.ndarray | None = None,
    candidates: Sequence[str] | np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    name: str = "scores",
) -> Selection:
    """The ``n`` candidates with the highest precomputed scores (e.g. from
    :mod:`al_bench.task_scores` for detection or segmentation), exact ties broken by ``rng``."""
    from .selectors import top_k

    ids = [str(s) for s in ids]
    sc = np.asarray(image_scores, np.float64)
    if sc.shape != (len(ids),):
        raise UserError(f"image_scores must be (N,) with one score per id (N = {len(ids)}), got {sc.shape}")
    seed = 0 if rng is None else (int(rng) if isinstance(rng, (int, np.integer)) else None)
    gen = np.random.default_rng(seed) if seed is not None else rng
    lab = _positions(ids, labeled, "labeled")
    cand = _positions(ids, candidates, "candidates") if candidates is not None else np.arange(len(ids))
    cand = np.setdiff1d(cand, lab)
    if not 0 < int(n) <= cand.size:
        raise UserError(f"cannot pick n={n}: {cand.size} candidate(s) left (of {len(ids)} ids, {lab.size} labeled)")
    if not np.isfinite(sc[cand]).all():
        bad = [ids[i] for i in cand[~np.isfinite(sc[cand])]]
        raise UserError(f"image_scores: {len(bad)} candidate(s) have no finite score (first: {', '.join(bad[:5])})")
    order = cand[top_k(sc[cand], int(n), gen)]
    params = {} if seed is None else {"seed": seed}
    return Selection(tuple(ids[i] for i in order), sc[order], name, params, order, np.ones(order.size, bool))
