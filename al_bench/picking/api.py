"""Pick the next batch to label from real data: the library API behind ``al-bench-select``.

:func:`select` runs any registered strategy (the same functions the simulation runs) on
features the caller has, with ids that stay attached from source to hand-off::

    sel = al_bench.select(ids, features, 50, strategy="kcenter", labeled=["a.jpg", "b.jpg"])
    sel.ids        # picked ids, most wanted first
    sel.frame()    # rank, id, score, strategy

Model outputs come from the caller (``probs`` (N, C), or MC-dropout samples (K, N, C) for
``bald``) or from a linear head trained here on the labeled items' features (``labels``).
What a strategy needs and what its score means are read from its registration
(:mod:`al_bench.strategies`); nothing here names a strategy but the k-center stop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import scores as S
from ..errors import UserError
from .request import STOPPING as STOPPING
from .request import SelectionRequest, check_request, count, stream_name
from .request import candidates as _candidates

__all__ = ["Selection", "select", "pick", "select_top", "SCORE_MEANING", "score_meaning", "candidate_positions"]


class _ScoreMeaning(Mapping):
    """strategy → what :attr:`Selection.scores` holds for it (higher = wanted more, except
    distances, which shrink along a k-center order), read from each strategy's ``score``;
    strategies that declare none are absent."""

    def _meanings(self) -> dict[str, str]:
        from ..strategies import STRATEGIES

        return {e.name: e.score for e in STRATEGIES.entries() if e.score is not None}

    def __getitem__(self, name: str) -> str:
        return self._meanings()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._meanings())

    def __len__(self) -> int:
        return len(self._meanings())

    def __repr__(self) -> str:
        return repr(self._meanings())


SCORE_MEANING: Mapping[str, str] = _ScoreMeaning()


def score_meaning(strategy: str) -> str:
    """What the scores of a selection by ``strategy`` mean; ``task:scorer`` names (from
    :func:`select_top` in the command) are precomputed task scores. A selection that knows better
    carries its own (:attr:`Selection.meaning`, e.g. a segmentation recipe's)."""
    if ":" in strategy:
        task, scorer = strategy.split(":", 1)
        return f"{scorer} score of the {task} predictions (higher = more informative)"
    return SCORE_MEANING.get(strategy, "none")


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
    # what ``scores`` hold when the strategy's name does not say it (a segmentation recipe's
    # selection sets it); None: score_meaning(strategy)
    meaning: str | None = None
    # the model's predicted class and its probability for each pick, where the model that picked
    # has class names (a given model, or a head trained here on labels); None otherwise
    predicted: tuple[tuple[str, float], ...] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def frame(self):
        """A pandas DataFrame: rank (1-based), id, score, strategy, by_strategy."""
        import pandas as pd

        return pd.DataFrame({"rank": np.arange(1, len(self.ids) + 1), "id": list(self.ids),
                             "score": self.scores, "strategy": self.strategy,
                             "by_strategy": self.by_strategy})


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
        names = ", ".join(f"{ids[i]} ({_row_problem(p[..., i, :].reshape(-1, p.shape[-1]))})" for i in bad_rows[:5])
        raise UserError(f"{bad_rows.size} row(s) are not probabilities (non-negative, finite, summing "
                        f"to 1): {names}", key="probs") from None
    if p.ndim == 3:
        return p.mean(axis=0), p.astype(np.float32, copy=False)
    return p.astype(np.float64, copy=False), None


def _row_problem(rows: np.ndarray) -> str:
    """What is wrong with one id's probability row(s) (MC samples: the first bad one)."""
    rows = np.asarray(rows, np.float64)
    if np.isnan(rows).any():
        return "has NaN"
    if not np.isfinite(rows).all():
        return "has an infinite value"
    if (rows < 0).any():
        return f"has a negative value ({float(rows.min()):.4g})"
    sums = rows.sum(-1)
    return f"sum {float(sums[np.argmax(np.abs(sums - 1))]):.4g}"


def candidate_positions(ids: list[str], labeled, candidates) -> tuple[np.ndarray, np.ndarray]:
    """The name earlier code used for :func:`al_bench.picking.request.candidates`."""
    return _candidates(ids, labeled, candidates)


def select(
    ids: Sequence[str],
    features: np.ndarray,
    n: int | None = None,
    strategy: str = "kcenter",
    labeled: Sequence[str] | np.ndarray | None = None,
    probs: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    labels: Sequence[Any] | Mapping[str, Any] | None = None,
    candidates: Sequence[str] | np.ndarray | None = None,
    random_fraction: float = 0.0,
    min_distance: float | None = None,
    model: Any = None,
    total: int | None = None,
    sampling: str = "topk",
    beta: float = 1.0,
    class_balance: str = "none",
    target: np.ndarray | None = None,
    sample: int | None = None,
    **params: Any,
) -> Selection:
    """Pick ``n`` of ``ids`` to label next with registered strategy ``strategy``.

    - ``features`` (N, d): one embedding per id (diversity strategies work on these).
    - ``n``, or ``total``: the labeled set's size after the pick.
    - ``labeled``: ids (or a boolean mask) already labeled; they seed k-center/hybrid and are
      never picked.
    - ``probs``: model outputs, one row per id: (N, C) probabilities, or (K, N, C) MC-dropout
      samples (needed by ``bald``; their mean serves the others). Rows of labeled and excluded
      items are not read. Without ``probs``, ``labels`` (one per labeled id, same order, or an
      id → label mapping) train a linear head on the labeled features here (dropout 0.1,
      temperature 1: too few labels to calibrate on), which then serves every strategy.
    - ``rng``: a Generator, or an int seed (default 0) for the stream ``al_bench.rng.stream(seed,
      "pick")``: the same inputs give the same picks.
    - ``candidates``: ids (or mask) that may be picked (default: every unlabeled id); others are
      neither picked nor used as centers — e.g. images dropped by a brightness filter.
    - ``random_fraction``: share of the batch drawn uniformly (as in the simulation).
    - ``min_distance`` (kcenter only): stop early once the farthest remaining candidate is closer
      than this (Euclidean, in embedding units) to every labeled item and earlier pick.
    - ``model``: a fitted head (the :class:`al_bench.heads.Head` protocol) taking these
      features, e.g. a labeling project's calibrated model; it serves every strategy, MC
      dropout and gradients included, instead of ``probs`` / ``labels``.
    - ``sampling`` / ``beta``: top-k (default) or a stochastic draw from the strategy's scores.
    - ``class_balance``: ``fallback`` or ``predicted`` (:mod:`al_bench.strategies._balance`), with
      ``labels``: the labeled items' labels and the head's predictions steer part of the batch.
    - ``target`` (T, d): features of inputs the model will serve that are not in ``ids`` (e.g. a
      folder of the deployment's images), in the same embedding; ``epig`` with
      ``target="heldout"`` measures information about their predictions. Needs a head trained
      here (``labels``) or ``model``.
    - ``sample``: the approximate mode for very large pools: the strategy runs on this many
      candidates drawn uniformly (every labeled id kept); recorded as ``params["sample"]``.
    - ``params``: the strategy's own parameters (e.g. ``k`` for bald, ``shortlist_factor``).

    ``features`` may be float16 or float32 and a memory map (:func:`al_bench.read_features`):
    ``kcenter`` and ``random`` read it as stored, in float32 blocks, without a whole copy; other
    strategies get a float32 copy of the rows they see (all, or ``sample`` of them).

    BADGE with given ``probs`` uses the gradient of a linear head on ``features`` with those
    probabilities, (p − onehot(ŷ)) ⊗ [x, 1], as the simulation does for its head.

    The request is checked (:func:`al_bench.picking.request.check_request`) before any data is
    read, then run by :func:`pick`.
    """
    seed = None
    if rng is None or isinstance(rng, (int, np.integer)):
        seed = 0 if rng is None else int(rng)
    source = ("model" if model is not None else "mc" if probs is not None and np.ndim(probs) == 3
              else "probs" if probs is not None else "labels" if labels is not None else None)
    req = check_request(SelectionRequest(strategy, n=n, total=total, params=params, random_fraction=random_fraction,
                                         min_distance=min_distance, sampling=sampling, beta=beta,
                                         seed=0 if seed is None else seed, outputs=source,
                                         class_balance=class_balance, sample=sample))
    return pick(req, ids, features, labeled=labeled, candidates=candidates, probs=probs, labels=labels, model=model,
                rng=None if seed is not None else rng, target=target)


def pick(req: SelectionRequest, ids: Sequence[str], features: np.ndarray, *,
         labeled: Sequence[str] | np.ndarray | None = None, candidates: Sequence[str] | np.ndarray | None = None,
         probs: np.ndarray | None = None, labels: Sequence[Any] | Mapping[str, Any] | None = None, model: Any = None,
         rng: np.random.Generator | None = None, up_to: bool = False, target: np.ndarray | None = None) -> Selection:
    """Run request ``req`` (checked by :func:`check_request`, which this does if it was not) on
    the data: ``ids`` with their ``features``, the labeled set and candidates, and one source of
    model outputs (as in :func:`select`). ``rng``: a Generator instead of the request's stream.
    ``up_to``: pick every candidate left when fewer than asked (see :func:`count`). ``target``:
    held-out inputs' features (:func:`select`)."""
    from ..strategies import STRATEGIES, PoolView, balanced_batch, select_batch
    from .outputs import GivenOutputs

    if not req.checked:
        req = check_request(req)
    strategy, params = req.strategy, dict(req.params)
    entry = STRATEGIES.entry(strategy)
    ids = [str(s) for s in ids]
    x = np.asarray(features)
    if x.ndim != 2 or len(x) != len(ids):
        raise UserError(f"features must be (N, d) with one row per id (N = {len(ids)}), got shape {x.shape}")
    if len(set(ids)) != len(ids):
        from collections import Counter

        dup = sorted(s for s, c in Counter(ids).items() if c > 1)[:5]
        raise UserError(f"ids must be unique; repeated: {', '.join(dup)}")
    lab, cand = _candidates(ids, labeled, candidates)
    n = count(req, len(ids), lab.size, cand.size, up_to=up_to)
    if labels is not None and not isinstance(labels, Mapping):
        given = [ids[i] for i in np.flatnonzero(np.asarray(labeled))] if np.asarray(labeled).dtype == bool \
            else [str(v) for v in (labeled if labeled is not None else [])]
        labels = list(labels)
        if len(labels) != len(given):
            raise UserError(f"{len(labels)} given for {len(given)} labeled ids", key="labels")
        labels = dict(zip(given, labels))  # paired in the caller's order, whatever order lab ends in

    sampled = None
    if req.sample is not None and cand.size > req.sample:  # the approximate mode: a uniform sample of candidates
        sampled = int(cand.size)
        cand = np.sort(req.rng("sample").choice(cand, size=req.sample, replace=False))
    keep = np.concatenate([lab, cand])  # the view's pool: labeled first, then candidates
    order = np.argsort(keep, kind="stable")
    keep = keep[order]
    pos_lab = np.flatnonzero(np.isin(keep, lab))
    pos_unl = np.flatnonzero(~np.isin(keep, lab))
    if _as_stored(entry, x, keep, probs, labels, model, req):
        xv = x  # float16 / float32 as stored, a memory map of a file included: never copied whole
    else:
        xv = np.ascontiguousarray(x[keep], np.float32)
    p, mc = _check_outputs(probs, len(ids), ids, cand)
    outputs, n_classes = None, 0
    # labels beside a model only say what balancing counts and what a strategy that reads the labels
    # bought (auto) reads, never train
    reads_labels = bool(entry.meta.get("reads_labels", False))
    if model is not None:
        if p is not None or (labels is not None and req.class_balance == "none" and not reads_labels):
            raise UserError("give one source of model outputs: model, probs or labels")
        outputs, n_classes = GivenOutputs(xv, None, None, lambda: model), int(model.c)
    elif p is not None:
        outputs, n_classes = GivenOutputs(xv, p[keep], None if mc is None else mc[:, keep]), p.shape[1]
    names, codes = (None, None) if labels is None else _label_codes(ids, lab, labels)  # lab sorted, as keep[pos_lab]
    if model is None and p is None and codes is not None:
        outputs = GivenOutputs(xv, None, None, lambda: _train_head(xv, pos_lab, codes))
        n_classes = len({str(v) for v in labels.values()})
    if outputs is None and req.outputs is not None:
        req = check_request(replace(req, outputs=None, n=n, total=None))  # promised outputs that did not come
    if target is not None:
        target = np.asarray(target)
        if target.ndim != 2 or target.shape[1] != x.shape[1] or not len(target):
            raise UserError(f"target must be (T, d) features with d = {x.shape[1]} and T >= 1, got shape {target.shape}",
                            key="target")
        target = np.ascontiguousarray(target, np.float32)
    view = PoolView(xv, pos_lab, pos_unl, n_classes, req.round, outputs, labels=codes, target=target)
    gen = rng if rng is not None else req.rng()
    try:
        if req.class_balance == "none":
            picks, by_strategy, own = select_batch(strategy, view, n, gen, req.random_fraction, params,
                                                   with_scores=True, sampling=req.sampling, beta=req.beta, checked=True)
        else:  # the labeled items' own labels (those a head is trained on here), never any other
            if labels is None:
                raise UserError("needs the labeled items' labels: give labels", key="class_balance")
            picks, sources = balanced_batch(strategy, view, n, gen, req.random_fraction, params, req.class_balance,
                                            codes, req.sampling, req.beta)
            by_strategy, own = np.array([x == "strategy" for x in sources]), None
    except (ValueError, TypeError) as exc:  # a strategy rejecting a parameter value
        if isinstance(exc, UserError):
            raise
        raise UserError(f"strategy {strategy!r} with parameters {params}: {exc}") from None
    sc = _pick_scores(entry, view, picks, own)
    stopped = "n"
    if req.min_distance is not None:
        below = np.flatnonzero(sc < req.min_distance)
        if below.size:
            cut = int(below[0])
            picks, by_strategy, sc, stopped = picks[:cut], by_strategy[:cut], sc[:cut], "min_distance"
    used = {**params, "random_fraction": req.random_fraction}
    if rng is None:
        used["seed"] = req.seed
        used["rng"] = stream_name(req.seed, req.stream)
    if req.sampling != "topk":
        used.update(sampling=req.sampling, beta=req.beta)
    if req.class_balance != "none":
        used["class_balance"] = req.class_balance
    if view.decisions:  # a strategy that chooses among others: which one picked, and why
        used.update(candidate=view.decisions[-1]["candidate"], reason=view.decisions[-1]["reason"])
    if req.min_distance is not None:
        used["min_distance"] = req.min_distance
    if sampled is not None:
        used.update(sample=int(req.sample), sampled_from=sampled)
    if mc is not None and "mc" in entry.needs and "k" in entry.options:
        used["k"] = int(mc.shape[0])  # given samples: all K of them are used, whatever k says
    if model is not None:
        used["model"] = "given head"
    elif outputs is not None and outputs.head_trained:
        used["model"] = "linear head trained on the labeled features (seed 0)"
    positions = keep[picks]
    return Selection(tuple(ids[i] for i in positions), sc, strategy, used, positions, by_strategy, stopped,
                     predicted=_predicted(outputs, picks, model, names))


def _as_stored(entry, x: np.ndarray, keep: np.ndarray, probs, labels, model, req: SelectionRequest) -> bool:
    """Whether the strategy can read the features as given (every row in the view, float16 or
    float32, C-contiguous): one that reads none, or one registered with ``stored_features=True``
    (its kernels read rows in float32 blocks), with no model outputs to serve."""
    if keep.size != len(x) or x.dtype not in (np.float16, np.float32) or not x.flags.c_contiguous:
        return False
    if probs is not None or labels is not None or model is not None or req.class_balance != "none":
        return False
    return bool(entry.meta.get("stored_features", False)) or not (entry.needs & {"features", "grad"})


def _predicted(outputs, picks: np.ndarray, model, label_names: list[str] | None) -> tuple | None:
    """(class name, probability) of each pick from the model that picked, when its classes have
    names: a given model's, or those of the labels a head was trained on here (only when it was
    trained anyway: a strategy that needed no model trains none for this)."""
    if outputs is None or picks.size == 0:
        return None
    if model is not None:
        names = [str(c) for c in getattr(model, "classes", ())]
    elif label_names is not None and outputs.head_trained:
        names = label_names
    else:
        return None
    p = np.asarray(outputs.probs(picks))
    if not names or p.shape[1] != len(names):
        return None
    top = p.argmax(axis=1)
    return tuple((names[k], float(p[i, k])) for i, k in enumerate(top))


def _pick_scores(entry, view, picks: np.ndarray, own: np.ndarray | None) -> np.ndarray:
    """Each pick's score under the strategy's own criterion (see SCORE_MEANING): its declared
    ``pick_scores``, else the scores it returned (NaN for a random share), else NaN."""
    if entry.meta.get("pick_scores") is not None:
        return np.asarray(entry.pick_scores(view, picks))
    if own is not None:
        return own
    return np.full(picks.size, np.nan)


def _label_codes(ids: list[str], lab: np.ndarray, labels: Mapping) -> tuple[list[str], np.ndarray]:
    """(the class names, sorted; the class code of each labeled position ``lab``), from an id → label map."""
    missing = [ids[i] for i in lab if ids[i] not in labels]
    if missing:
        raise UserError(f"no label for {len(missing)} labeled id(s) (first: {', '.join(missing[:5])})", key="labels")
    names, y = np.unique(np.asarray([str(labels[ids[i]]) for i in lab]), return_inverse=True)
    if names.size < 2:
        raise UserError(f"a head needs at least 2 classes among the labeled items, got {names.tolist()}", key="labels")
    return [str(c) for c in names], y


def _train_head(xv: np.ndarray, pos_lab: np.ndarray, y: np.ndarray):
    """The simulation's linear head (default settings, seed 0) fitted on the labeled features."""
    from ..heads.linear import linear_head

    return linear_head(xv.shape[1], int(y.max()) + 1, 0).fit(xv[pos_lab], y)


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
    :mod:`al_bench.task_scores` for detection or segmentation), exact ties broken by ``rng`` (a
    Generator, or an int seed for ``al_bench.rng.stream(seed, "pick")``; default 0)."""
    from ..kernels.topk import top_k
    from ..rng import stream

    ids = [str(s) for s in ids]
    sc = np.asarray(image_scores, np.float64)
    if sc.shape != (len(ids),):
        raise UserError(f"image_scores must be (N,) with one score per id (N = {len(ids)}), got {sc.shape}")
    seed = 0 if rng is None else (int(rng) if isinstance(rng, (int, np.integer)) else None)
    gen = stream(seed, "pick") if seed is not None else rng
    lab, cand = _candidates(ids, labeled, candidates)
    n = count(SelectionRequest(n=n), len(ids), lab.size, cand.size)
    if not np.isfinite(sc[cand]).all():
        bad = [ids[i] for i in cand[~np.isfinite(sc[cand])]]
        raise UserError(f"{len(bad)} candidate(s) have no finite score (first: {', '.join(bad[:5])})",
                        key="image_scores")
    order = cand[top_k(sc[cand], int(n), gen)]
    params = {} if seed is None else {"seed": seed, "rng": stream_name(seed, ("pick",))}
    return Selection(tuple(ids[i] for i in order), sc[order], name, params, order, np.ones(order.size, bool))
