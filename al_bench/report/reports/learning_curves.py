"""``figures/learning_curves.png``: accuracy against labels, mean ± 1 std over seeds, one line per
strategy and one panel per comparison group (dataset, embedder, model, schedule). The label
axis is logarithmic by default (``log_x=False``, ``--no-log-x``: linear). With ``--metric``
(:mod:`..metric`) the curves, the axis and the title are the metric's, and the full-pool line is
drawn where the runs record ``full_pool_<metric>``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, full_pool_column, metric_label
from ..runs import with_identity
from . import BASELINE, register
from ._figure import budget_axis, group_title, save_figure

__all__ = ["plot_learning_curves"]


@register("learning_curves", kind="figure", output="figures/learning_curves.png", order=30)
def plot_learning_curves(results: pd.DataFrame, path: Path, log_x: bool = True, metric: str = DEFAULT) -> Path:
    """Accuracy vs labels, mean ± 1 std over seeds, one panel per (dataset, embedder, model, schedule).

    ``log_x``: labels on a logarithmic axis (the default, so that low budgets are readable), else linear.
    """
    results = with_identity(results)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    groups = list(results.groupby(COMPARE_KEYS, sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(7.5 * len(groups), 5.2), squeeze=False)
    strategies = sorted(results["strategy"].unique(), key=lambda s: (s != BASELINE, s))
    palette = dict(zip(strategies, ["black"] + sns.color_palette("tab10", max(1, len(strategies) - 1))))
    for ax, (gk, g) in zip(axes[0], groups):
        n_seeds = g.groupby("strategy")["seed"].nunique()
        g = g.assign(label=g["strategy"].map(lambda s: f"{s} (n={n_seeds[s]})"))
        order = [f"{s} (n={n_seeds[s]})" for s in strategies if s in n_seeds]
        sns.lineplot(data=g, x="n_labeled", y=metric, hue="label", hue_order=order, errorbar="sd",
                     marker="o", markersize=4, ax=ax,
                     palette={f"{s} (n={n_seeds[s]})": palette[s] for s in n_seeds.index},
                     style="label", dashes={o: (4, 2) if o.startswith(BASELINE + " ") else "" for o in order})
        col = full_pool_column(metric)
        full = g.drop_duplicates("seed")[col].mean() if col in g else float("nan")
        if metric == DEFAULT or full == full:  # a metric's line only where the runs record it
            ax.axhline(full, color="grey", lw=0.8, ls=":", label=f"full pool ({full:.3f})")
        budget_axis(ax, g, log_x, lambda b: f"{b:.0%}")
        ax.set_ylabel(f"test {metric_label(metric)}")
        ax.grid(alpha=0.3)
        ax.set_title(group_title(gk, groups), fontsize=10)
        ax.legend(title="strategy (seeds)", fontsize=8, title_fontsize=8, loc="lower right")
    on = "" if metric == DEFAULT else f" ({metric_label(metric)})"
    fig.suptitle(f"Active-learning curves{on}: mean ± 1 std over seeds", fontsize=12)
    fig.tight_layout()
    return save_figure(fig, path)

