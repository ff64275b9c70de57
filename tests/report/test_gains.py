"""figures/gains.png: what each panel draws (from budget_gains) and that the figure is written."""

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from al_bench.report.reports.budget_gains import budget_gains
from al_bench.report.reports.gains import gain_series, plot_gains

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
T2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # Student t, 97.5 % quantile, 2 df


def rows(strategy, accs, budget, n, seeds=(0, 1, 2), group=G):
    return [{**group, "strategy": strategy, "seed": k, "budget": budget, "n_labeled": n, "accuracy": a}
            for k, a in zip(seeds, accs)]


@pytest.fixture
def table():
    return pd.DataFrame(
        rows("random", [0.50, 0.52, 0.54], 0.05, 20) + rows("random", [0.60, 0.61, 0.62], 0.5, 200)
        + rows("entropy", [0.52, 0.56, 0.60], 0.05, 20) + rows("entropy", [0.62, 0.63, 0.64], 0.5, 200)
        # margin: 1 seed at the first point, 3 at the second; missing nothing
        + rows("margin", [0.55], 0.05, 20, seeds=(0,)) + rows("margin", [0.61, 0.65, 0.63], 0.5, 200))


def test_lines_and_bands_in_points_by_hand(table):
    lines = {line["strategy"]: line for line in gain_series(budget_gains(table))}
    assert set(lines) == {"entropy", "margin"}  # random is the zero line, not a series
    e = lines["entropy"]
    assert e["label"] == "entropy (n=3)"
    np.testing.assert_allclose(e["x"], [20, 200])
    np.testing.assert_allclose(e["y"], [4.0, 2.0])  # gains 0.02/0.04/0.06 and 0.02 at every seed
    half = 100 * T2 * 0.02 / math.sqrt(3)
    np.testing.assert_allclose(e["band_low"], [4.0 - half, 2.0])  # zero spread: a point interval
    np.testing.assert_allclose(e["band_high"], [4.0 + half, 2.0])
    m = lines["margin"]
    assert m["label"] == "margin (n=1–3)"
    np.testing.assert_allclose(m["x"], [20, 200])
    np.testing.assert_allclose(m["band_x"], [200])  # one seed at 20 labels: no interval drawn there


@pytest.mark.slow
def test_writes_one_panel_per_group_even_without_random(table, tmp_path):
    one = plot_gains(table, tmp_path / "figures" / "gains.png")
    assert one == tmp_path / "figures" / "gains.png"
    assert [p.name for p in one.parent.iterdir()] == ["gains.png"]
    no_random = table[table.strategy != "random"].assign(model="other")
    assert gain_series(budget_gains(no_random)) == []
    two = plot_gains(pd.concat([table, no_random]), tmp_path / "two.png")
    with Image.open(one) as a, Image.open(two) as b:
        assert a.format == "PNG" and b.size[0] == 2 * a.size[0] and b.size[1] == a.size[1]
