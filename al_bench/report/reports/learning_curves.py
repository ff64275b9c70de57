"""``figures/learning_curves.png``: accuracy against labels, the mean over seeds, per comparison
group (dataset, embedder, model, schedule) one block: an overview of random and the
:data:`._figure.N_BEST` strategies of highest mean accuracy over the budget points (means,
with the full-pool line; legend beside the axes), and under it one small panel per strategy
against random on shared axes, best first, with the ± 1 std bands (ddof = 1) of both where a
point has ≥ 3 seeds (the header says when there is none). Y ranges follow the means. Styles:
:func:`._figure.strategy_styles`. The label axis is logarithmic by default (``log_x=False``,
``--no-log-x``: linear). With ``--metric`` (:mod:`..metric`) the curves, the axis and the
title are the metric's, and the full-pool line is drawn where the runs record ``full_pool_<metric>``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, full_pool_column, metric_label
from ..runs import with_identity
from . import BASELINE, register
from ._figure import (
    MIN_BAND_SEEDS,
    N_BEST,
    N_COLS,
    band_note,
    best,
    budget_axis,
    draw_band,
    figure_of_groups,
    group_axes,
    group_title,
    mean_limits,
    outside_legend,
    save_figure,
    small_title,
    strategy_styles,
)

__all__ = ["plot_learning_curves", "curve_series"]


def curve_series(group: pd.DataFrame, metric: str = DEFAULT) -> dict[str, dict]:
    """What one group's panels draw, per strategy (random included), from its rows of the results:
    ``label`` ("name (n=k)", or "n=lo–hi" when points have different numbers of seeds), ``x``
    (mean labels per budget point), ``y`` (mean of ``metric`` over seeds), ``n`` (seeds per
    point), ``low`` / ``high`` (mean ∓ 1 std, ddof = 1; NaN where ``n`` < :data:`MIN_BAND_SEEDS`)."""
    out = {}
    for strategy, s in group.dropna(subset=[metric]).groupby("strategy", sort=True):
        pts = s.groupby("budget").agg(x=("n_labeled", "mean"), y=(metric, "mean"), sd=(metric, "std"),
                                      n=("seed", "nunique")).sort_values("x")
        n = pts["n"].to_numpy(dtype=int)
        sd = np.where(n >= MIN_BAND_SEEDS, pts["sd"].to_numpy(dtype=float), np.nan)
        y = pts["y"].to_numpy(dtype=float)
        lo, hi = int(n.min()), int(n.max())
        out[strategy] = {"strategy": strategy, "label": f"{strategy} (n={lo})" if lo == hi else f"{strategy} (n={lo}–{hi})",
                         "x": pts["x"].to_numpy(dtype=float), "y": y, "n": n, "low": y - sd, "high": y + sd}
    return out


def _draw(ax, line: dict, style, band: bool = True, **kw) -> None:
    ax.plot(line["x"], line["y"], label=line["label"], **style.line(**kw))
    if band:
        draw_band(ax, line["x"], line["low"], line["high"], line["n"], style.color)


@register("learning_curves", kind="figure", output="figures/learning_curves.png", order=30)
def plot_learning_curves(results: pd.DataFrame, path: Path, log_x: bool = True, metric: str = DEFAULT) -> Path:
    """Accuracy vs labels: random and the best few, then each strategy against random, per (dataset, embedder, model, schedule).

    ``log_x``: labels on a logarithmic axis (the default, so that low budgets are readable), else linear.
    """
    results = with_identity(results)
    import matplotlib

    matplotlib.use("Agg")

    styles = strategy_styles(results["strategy"].unique())  # the whole results: the same in every group
    groups = list(results.groupby(COMPARE_KEYS, sort=True))
    series = [curve_series(g, metric) for _, g in groups]
    fig, subs = figure_of_groups([len([s for s in lines if s != BASELINE]) for lines in series])
    label = f"test {metric_label(metric)}"
    for sub, (gk, g), lines in zip(subs, groups, series):
        rand = lines.get(BASELINE)
        others = [s for s in lines if s != BASELINE]
        ranked = best({s: float(np.nanmean(lines[s]["y"])) for s in others}, len(others))
        ranked += [s for s in others if s not in ranked]
        top = ranked[:N_BEST]
        n_all = np.concatenate([line["n"] for line in lines.values()])
        axes = group_axes(sub, len(ranked), f"each strategy against {BASELINE} (dashed), best first; shared axes;"
                                            f" {band_note(n_all, '± 1 std band')}")
        ov = axes.overview
        if rand is not None:
            _draw(ov, rand, styles[BASELINE], band=False, lw=1.4)
        for s in top:  # means only: the bands are in the small multiples, one strategy each
            _draw(ov, lines[s], styles[s], band=False)
        col = full_pool_column(metric)
        full = g.drop_duplicates("seed")[col].mean() if col in g else float("nan")
        if metric == DEFAULT or full == full:  # a metric's line only where the runs record it
            ov.axhline(full, color="grey", lw=0.8, ls=":", label=f"full pool ({full:.3f})")
        shown = [lines[s]["y"] for s in top] + ([rand["y"]] if rand is not None else [])
        lim = mean_limits(shown + ([np.array([full])] if full == full else []))
        if lim:
            ov.set_ylim(*lim)
        budget_axis(ov, g, log_x, lambda b: f"{b:.0%}")
        ov.set_ylabel(label)
        ov.grid(alpha=0.3)
        ov.set_title(f"{group_title(gk, groups)}\n{BASELINE} and the {len(top)} best by mean {metric_label(metric)}"
                     " over the budget points (means; spread in the panels below)", fontsize=9)
        outside_legend(ov, axes.legend, "strategy (seeds)")

        for ax, s in zip(axes.small, ranked):
            if rand is not None:
                _draw(ax, rand, styles[BASELINE], lw=1.0, markersize=0)
            _draw(ax, lines[s], styles[s], markersize=4)
            small_title(ax, lines[s]["label"])
        if axes.small:
            lim = mean_limits([line["y"] for line in lines.values()])
            if lim:
                axes.small[0].set_ylim(*lim)
            for k, ax in enumerate(axes.small):
                budget_axis(ax, g, log_x, lambda b: f"{b:.0%}")
                ax.set_xlabel("labels" if k + N_COLS >= len(axes.small) else "", fontsize=7)
                ax.tick_params(labelsize=7)
            axes.small[0].set_ylabel(label, fontsize=7)
    on = "" if metric == DEFAULT else f" ({metric_label(metric)})"
    fig.suptitle(f"Active-learning curves{on}: mean over seeds; ± 1 std band where a point has ≥ {MIN_BAND_SEEDS} seeds",
                 fontsize=12)
    return save_figure(fig, path)
