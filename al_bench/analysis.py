"""Analyses the walkthrough and the bench scripts share: how two strategies' picks overlap on
one round, and how many labels a strategy spends on near-duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Split, duplicate_group, initial_labeled
from .loop import ModelOracle, default_head
from .rng import stream
from .strategies import PoolView, select_batch

__all__ = ["pick_overlap", "duplicate_picks"]


def pick_overlap(features: np.ndarray, labels: np.ndarray, split: Split, n_classes: int, a: str, b: str,
                 seed: int, labeled_fraction: float = 0.05, batch_fraction: float = 0.01,
                 n_initial: int = 20) -> dict:
    """Strategies ``a`` and ``b`` pick one batch from the same state; how many picks they share.

    The state: the seed's initial set topped up uniformly to ``labeled_fraction`` of the pool,
    one head fitted and temperature-scaled on it, both strategies asked for
    ``batch_fraction`` of the pool.
    """
    n_pool = len(split.pool)
    n_lab = max(n_initial, int(round(labeled_fraction * n_pool)))
    batch = max(1, int(round(batch_fraction * n_pool)))
    init = initial_labeled(n_pool, n_initial, seed)
    rest = np.setdiff1d(np.arange(n_pool), init)
    labeled = np.concatenate([init, stream(seed, "overlap").choice(rest, n_lab - init.size, replace=False)])
    x_pool, y_pool = features[split.pool], labels[split.pool]
    head = ModelOracle(x_pool, y_pool, features[split.calibration], labels[split.calibration], n_classes,
                       default_head, seed)
    head.update(labeled)
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(n_pool), labeled), n_classes, 3, head)
    picks_a, _ = select_batch(a, view, batch, stream(seed, "overlap", a))
    picks_b, _ = select_batch(b, view, batch, stream(seed, "overlap", b))
    return {"seed": seed, "n_labeled": len(labeled), "batch": batch, "a": a, "b": b,
            "shared": int(np.intersect1d(picks_a, picks_b).size)}


def duplicate_picks(selected: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, seed and round: picks, and redundant picks — items whose near-duplicate group
    (:func:`al_bench.data.duplicate_group`) was already labeled before, or earlier in the same batch.

    ``selected`` is the long form of runs' selected.csv files (strategy, seed, round, id, in
    purchase order).
    """
    rows = []
    for (strategy, seed), g in selected.groupby(["strategy", "seed"], sort=True):
        seen: set[str] = set()
        for rnd, batch in g.groupby("round", sort=True):
            groups = duplicate_group(batch["id"])
            redundant = 0
            for grp in groups:
                redundant += grp in seen
                seen.add(grp)
            if rnd > 0:
                rows.append({"strategy": strategy, "seed": seed, "round": rnd, "picks": len(batch),
                             "redundant": redundant})
    return pd.DataFrame(rows, columns=["strategy", "seed", "round", "picks", "redundant"])
