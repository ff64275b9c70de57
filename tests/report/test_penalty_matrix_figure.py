import pytest

"""figures/penalty_matrix.png: written from the same matrix, one panel per comparison group."""

import pandas as pd
from PIL import Image

from al_bench.report.reports.penalty_matrix_figure import plot_penalty_matrix


def _table(model="m"):
    rows = []
    for s, off in {"random": 0.0, "entropy": 0.05, "margin": -0.05}.items():
        for k in range(3):
            for b in (0.1, 0.2):
                rows.append({"dataset": "d", "embedder": "e", "model": model, "schedule": "s", "strategy": s,
                             "seed": k, "budget": b, "n_labeled": int(b * 1000),
                             "accuracy": 0.5 + b + off + 0.01 * k * (1 + off), "full_pool_accuracy": 0.9})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_writes_a_png_with_one_panel_per_group(tmp_path):
    one = plot_penalty_matrix(_table(), tmp_path / "figures" / "penalty_matrix.png")
    assert one == tmp_path / "figures" / "penalty_matrix.png"
    assert [p.name for p in one.parent.iterdir()] == ["penalty_matrix.png"]  # no temporary file left
    two = plot_penalty_matrix(pd.concat([_table(), _table("other")]), tmp_path / "two.png")
    with Image.open(one) as a, Image.open(two) as b:
        assert a.format == "PNG" and b.size[1] == a.size[1] and b.size[0] > 1.7 * a.size[0]


def test_a_group_without_random_still_plots(tmp_path):
    t = _table()
    path = plot_penalty_matrix(t[t.strategy != "random"], tmp_path / "p.png")
    assert path.stat().st_size > 0
