"""``figures/penalty_matrix.png``: the penalty matrix of ``tables/penalty_matrix.csv`` as a heat
map, one panel per comparison group, with each column's sum (how often that strategy was
beaten) under its name and each strategy's line style (:func:`._figure.strategy_styles`, the
same as in the other figures) beside its name. The figure of the ``penalty_matrix`` table: same computation, same order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..metric import DEFAULT, metric_label
from . import register
from ._figure import save_figure, strategy_styles, style_key
from .penalty_matrix import group_penalties

__all__ = ["plot_penalty_matrix"]


@register("penalty_matrix_figure", kind="figure", output="figures/penalty_matrix.png", order=61)
def plot_penalty_matrix(results: pd.DataFrame, path: Path, metric: str = DEFAULT) -> Path:
    """Penalty matrix heat map per comparison group (row beats column), column sums under the names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group_penalties(results, metric)
    styles = strategy_styles(sorted({n for _, pen in groups for n in pen.strategies}))
    size = max(len(p.strategies) for _, p in groups)
    side = max(4.5, 1.5 + 0.75 * size)
    fig, axes = plt.subplots(1, len(groups), figsize=(side * len(groups) + 1.0, side + 1.6), squeeze=False)
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="lightgrey")  # the diagonal: not compared with itself
    for ax, (gk, pen) in zip(axes[0], groups):
        order = pen.order()
        names = [pen.strategies[k] for k in order]
        P = pen.P[np.ix_(order, order)]
        beaten = pen.beaten[order]
        vmax = 1.0
        im = ax.imshow(np.ma.masked_invalid(P), cmap=cmap, vmin=0.0, vmax=vmax)
        for i in range(len(names)):
            for j in range(len(names)):
                if i != j:
                    ax.text(j, i, f"{P[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if P[i, j] > 0.6 * vmax else "black")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([f"{n}\nΣ {b:.2f}" for n, b in zip(names, beaten)], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=8)
        style_key(ax, [styles[n] for n in names])
        ax.set_xlabel("beaten (column sum Σ: how often it lost)")
        ax.set_ylabel("winner")
        ds, emb, model, sched = gk[:4]
        ax.set_title(f"{ds} · {emb} · {model} · '{sched}'\n{len(pen.points)} point(s): {pen.rule}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    on = "" if metric == DEFAULT else f" on {metric_label(metric)}"
    fig.suptitle(f"Penalty matrix{on}: share of budget points where the row\nbeats the column (paired t, p < 0.05)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
