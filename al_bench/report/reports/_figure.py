"""What the figure reports share: one style per strategy (colour, marker, line), the layout of a
comparison group (an overview of random and the best few beside a legend, above small multiples
of every strategy on shared axes), a panel's title for its comparison group, the budget axis, and
writing the PNG whole (a temporary file renamed into place, so a reader never sees half a figure).

Styles (:func:`strategy_styles`): every figure and every aggregation draws a strategy the same
way, whatever else is in it. The order that hands out the styles is fixed: :data:`STYLE_ORDER`
(append-only: a name there keeps its style for good), then the strategy registry's other names
sorted, then names outside both (``name@<id>`` variants, runs of strategies this version lacks)
sorted. Slot ``k`` gets colour ``k mod 9`` of Paul Tol's colour-blind-safe *muted* palette (its
two pale colours last) and marker ``k div 9`` (solid lines, dash-dot for the second marker …), so
the first 72 slots are all distinct (colour, marker) pairs and no two strategies share both; the
first nine (the strategies of the design's table first) have a colour of their own. ``random``
is always black and dashed, without markers.

Intervals are drawn only where a point has at least :data:`MIN_BAND_SEEDS` seeds (or seed pairs):
with two, a ± 1 std band or a 95 % t interval (t = 12.7) says nothing but "two seeds"; the
panels then draw means only and the title says so. Y ranges follow the means, never the bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import BASELINE

# names in the order they got their styles; append a new strategy at the end (never reorder)
STYLE_ORDER = ("entropy", "margin", "least_confidence", "bald", "kcenter", "badge", "hybrid", "typiclust",
               "probcover", "dropquery", "kmeans_centroids", "uncertainty_coreset", "auto", "tcm", "epig",
               "bait", "batchbald")
# Paul Tol's "muted" qualitative scheme (https://personal.sron.nl/~pault/): distinct for
# colour-blind readers, dark enough for lines on white; its pale grey (missing data) is left out
COLORS = ("#332288", "#CC6677", "#117733", "#882255", "#44AA99", "#999933", "#AA4499", "#88CCEE", "#DDCC77")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", (0, (6, 1.5, 1.5, 1.5)))  # by marker: solid, dash-dot, solid …
MIN_BAND_SEEDS = 3  # a band (std or CI) only where a point has at least this many seeds or pairs
N_BEST = 4  # strategies an overview shows besides random
N_COLS = 4  # small multiples per row


@dataclass(frozen=True)
class Style:
    """How one strategy is drawn: ``color`` (hex), ``marker`` ("" for none), ``linestyle``."""

    color: str
    marker: str
    linestyle: Any = "-"

    def line(self, **kw: Any) -> dict[str, Any]:
        """Keyword arguments for ``ax.plot`` (``kw`` overrides)."""
        return {"color": self.color, "marker": self.marker or "None", "linestyle": self.linestyle,
                "markersize": 5, "lw": 1.6, **kw}


RANDOM_STYLE = Style("#000000", "", (0, (4, 2)))


def style_order(names: Iterable[str] = ()) -> list[str]:
    """The fixed order that hands out styles (``random`` excluded): :data:`STYLE_ORDER`, the
    registry's other strategies sorted, then the other ``names`` (variants, unknown) sorted."""
    from ...strategies import STRATEGIES

    order = [n for n in STYLE_ORDER if n != BASELINE]
    order += sorted(set(STRATEGIES) - set(order) - {BASELINE})
    return order + sorted(set(names) - set(order) - {BASELINE})


def strategy_styles(names: Iterable[str]) -> dict[str, Style]:
    """``{name: Style}`` for every name in ``names``; a name's style depends on the name alone
    (and, for names outside :data:`STYLE_ORDER` and the registry, on which such names there are)."""
    names = list(dict.fromkeys(names))
    slot = {n: k for k, n in enumerate(style_order(names))}
    out = {}
    for n in names:
        if n == BASELINE:
            out[n] = RANDOM_STYLE
            continue
        k = slot[n]
        m = k // len(COLORS)
        out[n] = Style(COLORS[k % len(COLORS)], MARKERS[m % len(MARKERS)], LINESTYLES[m % len(LINESTYLES)])
    return out


def best(scores: Mapping[str, float], k: int = N_BEST) -> list[str]:
    """The ``k`` names of highest finite score (ties: by name), best first; random is left out."""
    ranked = sorted(((-float(v), n) for n, v in scores.items() if n != BASELINE and np.isfinite(v)))
    return [n for _, n in ranked[:k]]


def mean_limits(series: Iterable[np.ndarray], pad: float = 0.08) -> tuple[float, float] | None:
    """Y limits that hold every finite value of ``series`` (the means, never the bands), padded
    by ``pad`` of their span; None when there is nothing finite."""
    values = np.concatenate([np.asarray(s, dtype=float).ravel() for s in series] or [np.empty(0)])
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.05
    return lo - pad * span, hi + pad * span


def band_note(n: Iterable[int], what: str) -> str:
    """What a panel says about its bands, from the seed (or pair) counts of its points."""
    n = [int(v) for v in n]
    if not n or max(n) < MIN_BAND_SEEDS:
        return f"n = {max(n) if n else 0}: means only, no {what} (drawn from n ≥ {MIN_BAND_SEEDS})"
    if min(n) < MIN_BAND_SEEDS:
        return f"{what} only where n ≥ {MIN_BAND_SEEDS}"
    return f"{what} shaded"


def draw_band(ax: Any, x: np.ndarray, low: np.ndarray, high: np.ndarray, n: np.ndarray, color: str) -> None:
    """Shade ``low``–``high`` at the points with ``n ≥`` :data:`MIN_BAND_SEEDS` (not across a
    point without one)."""
    where = (np.asarray(n) >= MIN_BAND_SEEDS) & np.isfinite(low) & np.isfinite(high)
    if where.any():
        ax.fill_between(x, np.where(where, low, np.nan), np.where(where, high, np.nan), where=where,
                        color=color, alpha=0.18, lw=0, interpolate=False)


@dataclass
class GroupAxes:
    """The axes of one comparison group: ``overview``, ``legend`` (an empty axes for the
    overview's legend, outside the data) and ``small`` (one per strategy, in the given order)."""

    overview: Any
    legend: Any
    small: list


GROUP_WIDTH = 10.5  # inches per comparison group
TOP_HEIGHT, ROW_HEIGHT = 4.4, 1.9  # inches: the overview (with the group's titles), a row of small multiples


def group_height(n_small: int) -> float:
    """Inches that a group with ``n_small`` small multiples needs."""
    return TOP_HEIGHT + ROW_HEIGHT * max(1, -(-n_small // N_COLS))


def figure_of_groups(n_small: Sequence[int]) -> tuple[Any, list[Any]]:
    """A figure with one column (a subfigure) per comparison group, sized for the largest."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(GROUP_WIDTH * len(n_small), 0.6 + max(group_height(n) for n in n_small)),
                     layout="constrained")
    subs = fig.subfigures(1, len(n_small), squeeze=False)[0]
    return fig, list(subs)


def group_axes(sub: Any, n_small: int, small_title: str = "") -> GroupAxes:
    """Lay out a group in ``sub``: the overview over three columns with the legend's axes in the
    fourth; below, under ``small_title``, ``n_small`` small multiples, :data:`N_COLS` a row,
    sharing x and y."""
    rows = max(1, -(-n_small // N_COLS))
    top, bottom = sub.subfigures(2, 1, height_ratios=[TOP_HEIGHT, ROW_HEIGHT * rows])
    gs = top.add_gridspec(1, N_COLS)
    overview = top.add_subplot(gs[0, :N_COLS - 1])
    legend = top.add_subplot(gs[0, N_COLS - 1])
    legend.axis("off")
    small: list = []
    if n_small:
        grid = bottom.subplots(rows, N_COLS, sharex=True, sharey=True, squeeze=False).ravel()
        small = list(grid[:n_small])
        for ax in grid[n_small:]:
            ax.remove()
        bottom.suptitle(small_title, fontsize=9, x=0.01, ha="left")
    for k, ax in enumerate(small):
        ax.tick_params(labelbottom=k + N_COLS >= n_small, labelleft=k % N_COLS == 0, labelsize=7)
        ax.grid(alpha=0.3)
    return GroupAxes(overview, legend, small)


def outside_legend(ax: Any, lax: Any, title: str) -> None:
    """The legend of ``ax``'s lines, placed in ``lax`` (an empty axes beside it)."""
    handles, labels = ax.get_legend_handles_labels()
    lax.legend(handles, labels, title=title, loc="upper left", fontsize=8, title_fontsize=8,
               frameon=False, borderaxespad=0.0)


def small_title(ax: Any, text: str) -> None:
    """A small multiple's title (its strategy and seeds), left-aligned over the panel."""
    ax.set_title(text, fontsize=8.5, loc="left", pad=3)


def style_key(ax: Any, styles: Sequence[Style]) -> None:
    """Each strategy's marker in its colour (random: a black dash pair) beside the tick labels of
    a square matrix panel (row ``k`` and column ``k`` are ``styles[k]``), to match the curves."""
    import matplotlib.transforms as mt

    ax.tick_params(axis="both", length=0)
    ax.tick_params(axis="y", pad=16)
    ax.tick_params(axis="x", pad=14)
    rows = mt.offset_copy(mt.blended_transform_factory(ax.transAxes, ax.transData), ax.figure, x=-8, units="points")
    cols = mt.offset_copy(mt.blended_transform_factory(ax.transData, ax.transAxes), ax.figure, y=-8, units="points")
    for k, st in enumerate(styles):
        kw = {"marker": st.marker or "$- -$", "color": st.color, "ls": "None", "clip_on": False,
              "markersize": 6 if st.marker else 11}
        ax.plot([0.0], [k], transform=rows, **kw)
        ax.plot([k], [0.0], transform=cols, **kw)


def group_title(key: Sequence[Any], groups: Sequence[tuple[Sequence[Any], Any]]) -> str:
    """``dataset · embedder embeddings · model head · budget 'schedule'`` for the comparison
    group ``key`` (dataset, embedder, model, schedule, comparison id); the config id is added
    when another group has the same names (configs that differ beyond them)."""
    ds, emb, model, sched = key[:4]
    same_names = sum(tuple(other[:4]) == tuple(key[:4]) for other, _ in groups) > 1
    return (f"{ds} · {emb} embeddings · {model} head · budget '{sched}'"
            + (f" · config {key[4][:6]}" if same_names else ""))


def budget_axis(ax: Any, frame: Any, log_x: bool, fraction: Callable[[float], str]) -> None:
    """The x axis of a per-budget-point panel: ticks at the mean number of labels of each budget
    point of ``frame`` (``budget``, ``n_labeled``), labelled with the count and ``fraction(b)``."""
    pts = frame.groupby("budget")["n_labeled"].mean()
    ax.set_xscale("log" if log_x else "linear")
    ax.set_xticks(pts.to_numpy(dtype=float))
    ax.set_xticklabels([f"{int(round(n))}\n{fraction(b)}" for b, n in pts.items()])
    ax.minorticks_off()
    ax.set_xlabel("labeled images (fraction of pool)")


def save_figure(fig: Any, path: Path, dpi: int = 130) -> Path:
    """Write ``fig`` to ``path`` (PNG) atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path
