"""``figures/gains.png``: the seed-paired gain over random (accuracy points) against the number of
labels on a log axis. Per comparison group one block: an overview of the :data:`._figure.N_BEST`
strategies of highest mean gain with random's zero line (means; legend beside the axes), and
under it one small panel per strategy on shared axes, best first, with its 95 % Student-t
interval as a band only where a point has ≥ 3 seed pairs (the header says when there is none);
the y ranges follow the means. Styles: :func:`._figure.strategy_styles`. The numbers are those of
``tables/budget_gains.csv`` (with ``--metric``, :mod:`..metric`, the metric's gain and that
metric's table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, metric_label
from . import BASELINE, register
from ._figure import (
    MIN_BAND_SEEDS,
    N_BEST,
    N_COLS,
    RANDOM_STYLE,
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
from .budget_gains import budget_gains

__all__ = ["plot_gains", "gain_series"]


def _seeds(n: pd.Series) -> str:
    lo, hi = int(n.min()), int(n.max())
    return f"n={lo}" if lo == hi else f"n={lo}–{hi}"


def gain_series(group: pd.DataFrame) -> list[dict]:
    """What one panel draws, from one comparison group's rows of ``budget_gains``: per strategy
    but random (by name) with at least one paired seed, ``label`` ("name (n=k)", or "n=lo–hi"
    when points have different numbers of paired seeds), ``x`` (labels), ``y`` (mean gain,
    points) and ``n`` (pairs) at every point with a pair, ``low`` / ``high`` (95 % CI, points;
    NaN where ``n`` < :data:`._figure.MIN_BAND_SEEDS`: an interval from two pairs, t = 12.7,
    says only that there are two), and ``band_x``, ``band_low``, ``band_high``: the points
    with an interval drawn."""
    out = []
    for strategy, s in group[group["strategy"] != BASELINE].groupby("strategy", sort=True):
        paired = s[s["n_pairs"] > 0].sort_values("n_labeled")
        if paired.empty:
            continue
        n = paired["n_pairs"].to_numpy(dtype=int)
        drawn = (n >= MIN_BAND_SEEDS) & np.isfinite(paired["gain_ci_low"].to_numpy(dtype=float))
        low = np.where(drawn, 100 * paired["gain_ci_low"].to_numpy(dtype=float), np.nan)
        high = np.where(drawn, 100 * paired["gain_ci_high"].to_numpy(dtype=float), np.nan)
        x = paired["n_labeled"].to_numpy(dtype=float)
        out.append({"strategy": strategy, "label": f"{strategy} ({_seeds(paired['n_pairs'])})",
                    "x": x, "y": 100 * paired["gain_mean"].to_numpy(dtype=float), "n": n, "low": low,
                    "high": high, "band_x": x[drawn], "band_low": low[drawn], "band_high": high[drawn]})
    return out


@register("gains", kind="figure", output="figures/gains.png", order=50)
def plot_gains(results: pd.DataFrame, path: Path, metric: str = DEFAULT) -> Path:
    """Gain over random (points) vs labels (log axis): the best few, then each strategy in its own panel, per group."""
    import matplotlib

    matplotlib.use("Agg")

    table = budget_gains(results, metric)
    styles = strategy_styles(table["strategy"].unique())  # the whole table: the same in every group
    groups = list(table.groupby(COMPARE_KEYS, sort=True))
    series = [{line["strategy"]: line for line in gain_series(g)} for _, g in groups]
    fig, subs = figure_of_groups([len(lines) for lines in series])
    label = f"{metric_label(metric)} gain over {BASELINE} (points)"
    zero = {"color": RANDOM_STYLE.color, "ls": RANDOM_STYLE.linestyle}
    for sub, (gk, g), lines in zip(subs, groups, series):
        ranked = best({s: float(np.mean(line["y"])) for s, line in lines.items()}, len(lines))
        ranked += [s for s in lines if s not in ranked]
        top = ranked[:N_BEST]
        n_all = np.concatenate([line["n"] for line in lines.values()] or [np.zeros(0)])
        axes = group_axes(sub, len(ranked), f"each strategy's gain over {BASELINE} (dashed zero line), best first;"
                                            f" shared axes; {band_note(n_all, '95 % CI band')}")
        ov = axes.overview
        ov.axhline(0.0, lw=1.2, label=f"{BASELINE} (zero line)", **zero)
        for s in top:  # means only: the intervals are in the small multiples, one strategy each
            _draw(ov, lines[s], styles[s], band=False)
        if not (g["strategy"] == BASELINE).any():
            ov.text(0.5, 0.5, f"no {BASELINE} runs in this group: no gains", transform=ov.transAxes,
                    ha="center", va="center")
        lim = mean_limits([lines[s]["y"] for s in top] + [np.zeros(1)])
        if lim:
            ov.set_ylim(*lim)
        budget_axis(ov, g, True, _pct)
        ov.set_ylabel(label)
        ov.grid(alpha=0.3)
        ov.set_title(f"{group_title(gk, groups)}\nthe {len(top)} best by mean gain over the budget points"
                     " (means; intervals in the panels below)", fontsize=9)
        outside_legend(ov, axes.legend, "strategy (paired seeds)")
        for ax, s in zip(axes.small, ranked):
            ax.axhline(0.0, lw=1.0, **zero)
            _draw(ax, lines[s], styles[s], markersize=4)
            small_title(ax, lines[s]["label"])
        if axes.small:
            lim = mean_limits([line["y"] for line in lines.values()] + [np.zeros(1)])
            if lim:
                axes.small[0].set_ylim(*lim)
            for k, ax in enumerate(axes.small):
                budget_axis(ax, g, True, _pct)
                ax.set_xlabel("labels" if k + N_COLS >= len(axes.small) else "", fontsize=7)
                ax.tick_params(labelsize=7)
            axes.small[0].set_ylabel("gain (points)", fontsize=7)
    on = "" if metric == DEFAULT else f" in {metric_label(metric)}"
    fig.suptitle(f"Gain over random{on}, seed-paired: mean; 95 % CI (Student t) band where a point has "
                 f"≥ {MIN_BAND_SEEDS} pairs", fontsize=12)
    return save_figure(fig, path)


def _pct(b: float) -> str:
    return f"{100 * b:.3g}%"


def _draw(ax, line: dict, style, band: bool = True, **kw) -> None:
    ax.plot(line["x"], line["y"], label=line["label"], **style.line(**kw))
    if band:
        draw_band(ax, line["x"], line["low"], line["high"], line["n"], style.color)
