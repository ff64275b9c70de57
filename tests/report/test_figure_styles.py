"""One style per strategy in every figure, and intervals only where they mean something.

The figures are drawn but not written: ``save_figure`` is replaced by one that keeps the figure,
whose lines are then read back (a strategy's lines are labelled ``name (n=…)``)."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex

from al_bench.report.reports import gains, learning_curves

matplotlib.use("Agg")

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
# the strategies of today and of the next issues: seventeen besides random
SEVENTEEN = ["badge", "bald", "dropquery", "entropy", "hybrid", "kcenter", "kmeans_centroids", "least_confidence",
             "margin", "probcover", "typiclust", "uncertainty_coreset", "auto", "bait", "batchbald", "epig", "tcm"]


def results(strategies, seeds=3, spread=0.01, points=((0.1, 40), (0.2, 80), (0.4, 160))):
    """random + ``strategies`` × ``seeds`` × ``points``; strategy k is 0.01·k above random."""
    rng = np.random.default_rng(0)
    rows = []
    for k, s in enumerate(["random", *strategies]):
        for seed in range(seeds):
            for i, (budget, n) in enumerate(points):
                rows.append({**G, "strategy": s, "seed": seed, "budget": budget, "n_labeled": n,
                             "accuracy": 0.6 + 0.1 * i + 0.01 * k + spread * rng.standard_normal(),
                             "full_pool_accuracy": 0.9})
    return pd.DataFrame(rows)


@pytest.fixture
def draw(monkeypatch):
    """``draw(module.plot_x, results) → Figure``: the figure as drawn, not saved."""
    import matplotlib.pyplot as plt

    kept = []
    for module in (gains, learning_curves):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: kept.append(fig) or path)

    def run(plot, frame):
        plot(frame, "unused.png")
        return kept[-1]

    yield run
    for fig in kept:
        plt.close(fig)


def styles_drawn(fig) -> dict[str, set]:
    """{strategy: {(colour, marker)}} over every labelled line of every panel of ``fig``."""
    out: dict[str, set] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            if label.startswith("_") or label.startswith("full pool") or " (" not in label:
                continue
            out.setdefault(label.split(" (")[0], set()).add((to_hex(line.get_color()), line.get_marker()))
    return out


def bands(fig) -> int:
    return sum(isinstance(c, PolyCollection) for ax in fig.axes for c in ax.collections)


def test_no_two_names_share_a_style_and_a_name_s_style_is_its_own():
    from al_bench.report.reports._figure import RANDOM_STYLE, strategy_styles
    from al_bench.strategies import STRATEGIES

    names = sorted({*STRATEGIES, *SEVENTEEN, "entropy@1a2b3c", "entropy@4d5e6f", "not_in_this_version"})
    styles = strategy_styles(names)
    assert len(names) >= 20 and set(styles) == set(names)
    pairs = [(st.color.lower(), st.marker) for st in styles.values()]
    assert len(set(pairs)) == len(pairs)
    assert styles["random"] == RANDOM_STYLE and RANDOM_STYLE.marker == "" and RANDOM_STYLE.linestyle != "-"
    # a name's style does not depend on what else is drawn, nor in which order
    assert strategy_styles(["margin", "random"]) == {n: styles[n] for n in ("margin", "random")}
    assert strategy_styles(reversed(names)) == styles


@pytest.mark.slow  # 17 small multiples: about 0.5 s
def test_seventeen_strategies_have_seventeen_styles(draw):
    drawn = styles_drawn(draw(learning_curves.plot_learning_curves, results(SEVENTEEN, seeds=2)))
    assert set(drawn) == {"random", *SEVENTEEN}
    assert all(len(v) == 1 for v in drawn.values()), drawn  # one style per strategy across the panels
    styles = [next(iter(v)) for v in drawn.values()]
    assert len(set(styles)) == len(styles)


def test_a_strategy_keeps_its_style_across_figures_and_aggregations(draw):
    everything = styles_drawn(draw(learning_curves.plot_learning_curves, results(["entropy", "margin", "typiclust"])))
    fewer = results(["margin"], seeds=2)  # another aggregation: other strategies, other seeds
    for fig in (draw(learning_curves.plot_learning_curves, fewer), draw(gains.plot_gains, fewer)):
        assert styles_drawn(fig)["margin"] == everything["margin"]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("plot", [learning_curves.plot_learning_curves, gains.plot_gains], ids=["curves", "gains"])
def test_no_band_below_three_seeds_and_a_band_from_three(draw, plot):
    assert bands(draw(plot, results(["entropy"], seeds=2))) == 0
    assert bands(draw(plot, results(["entropy"], seeds=3))) > 0


@pytest.mark.parametrize("plot", [learning_curves.plot_learning_curves, gains.plot_gains], ids=["curves", "gains"])
def test_the_y_range_follows_the_means_not_the_bands(draw, plot):
    fig = draw(plot, results(["entropy"], seeds=3, spread=0.2))  # bands far wider than the means' range
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert len(panels) >= 2 and bands(fig) > 0
    for ax in panels:
        means = np.concatenate([np.ravel(line.get_ydata()) for line in ax.get_lines()])  # means, zero, full pool
        lo, hi = ax.get_ylim()
        pad = 0.1 * np.ptp(means)
        assert means.min() - pad <= lo and hi <= means.max() + pad
