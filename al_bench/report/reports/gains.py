"""``figures/gains.png``: the seed-paired gain over random (accuracy points) with its 95 %
Student-t interval as a band, one line per strategy, against the number of labels on a log axis;
one panel per comparison group. The numbers are those of ``tables/budget_gains.csv`` (with
``--metric``, :mod:`..metric`, the metric's gain and that metric's table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, metric_label
from . import BASELINE, register
from ._figure import budget_axis, group_title, save_figure
from .budget_gains import budget_gains

__all__ = ["plot_gains", "gain_series"]


def _seeds(n: pd.Series) -> str:
    lo, hi = int(n.min()), int(n.max())
    return f"n={lo}" if lo == hi else f"n={lo}–{hi}"


def gain_series(group: pd.DataFrame) -> list[dict]:
    """What one panel draws, from one comparison group's rows of ``budget_gains``: per strategy
    but random (by name) with at least one paired seed, ``label`` ("name (n=k)", or "n=lo–hi"
    when points have different numbers of paired seeds), ``x`` (labels), ``y`` (mean gain,
    points) at every point with a pair, and ``band_x``, ``band_low``, ``band_high`` (95 % CI,
    points) where the interval exists (≥ 2 pairs)."""
    out = []
    for strategy, s in group[group["strategy"] != BASELINE].groupby("strategy", sort=True):
        paired = s[s["n_pairs"] > 0].sort_values("n_labeled")
        if paired.empty:
            continue
        band = paired[np.isfinite(paired["gain_ci_low"])]
        out.append({"strategy": strategy, "label": f"{strategy} ({_seeds(paired['n_pairs'])})",
                    "x": paired["n_labeled"].to_numpy(dtype=float),
                    "y": 100 * paired["gain_mean"].to_numpy(dtype=float),
                    "band_x": band["n_labeled"].to_numpy(dtype=float),
                    "band_low": 100 * band["gain_ci_low"].to_numpy(dtype=float),
                    "band_high": 100 * band["gain_ci_high"].to_numpy(dtype=float)})
    return out


@register("gains", kind="figure", output="figures/gains.png", order=50)
def plot_gains(results: pd.DataFrame, path: Path, metric: str = DEFAULT) -> Path:
    """Gain over random (points) with the 95 % CI band per strategy vs labels (log axis), one panel per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = budget_gains(results, metric)
    groups = list(table.groupby(COMPARE_KEYS, sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(7.5 * len(groups), 5.2), squeeze=False)
    others = sorted(s for s in table["strategy"].unique() if s != BASELINE)
    palette = dict(zip(others, sns.color_palette("tab10", max(1, len(others)))))
    for ax, (gk, g) in zip(axes[0], groups):
        ax.axhline(0.0, color="black", lw=1.0, ls="--", label=f"{BASELINE} (zero line)")
        has_random = (g["strategy"] == BASELINE).any()
        for line in gain_series(g):
            color = palette[line["strategy"]]
            ax.plot(line["x"], line["y"], marker="o", markersize=4, color=color, label=line["label"])
            if len(line["band_x"]):
                ax.fill_between(line["band_x"], line["band_low"], line["band_high"], color=color, alpha=0.15, lw=0)
        if not has_random:
            ax.text(0.5, 0.5, f"no {BASELINE} runs in this group: no gains", transform=ax.transAxes,
                    ha="center", va="center")
        budget_axis(ax, g, True, lambda b: f"{100 * b:.3g}%")
        ax.set_ylabel(f"{metric_label(metric)} gain over {BASELINE} (points)")
        ax.grid(alpha=0.3)
        ax.set_title(group_title(gk, groups), fontsize=10)
        ax.legend(title="strategy (paired seeds)", fontsize=8, title_fontsize=8, loc="best")
    on = "" if metric == DEFAULT else f" in {metric_label(metric)}"
    fig.suptitle(f"Gain over random{on}, seed-paired: mean and 95 % CI (Student t)", fontsize=12)
    fig.tight_layout()
    return save_figure(fig, path)
