"""The strategies added for low budgets, each in one real run through the entry point (digits,
pixels, smoke budget): the run ends ok, buys distinct items only through the strategy, and
reaches sensible accuracy."""

import json

import pandas as pd
import pytest

from support import main, one_run


@pytest.mark.slow
@pytest.mark.parametrize("name", ["typiclust", "probcover", "dropquery", "kmeans_centroids"])
def test_a_run_through_the_loop(tmp_path, name):
    r = main("dataset=digits", "embedder=pixels", "budget=smoke", f"strategy={name}", "model.steps=60",
             f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    run = one_run(tmp_path / "out", f"digits/pixels/linear/smoke/{name}/seed0")
    assert json.loads((run / "status.json").read_text())["status"] == "ok"
    curve, sel = pd.read_csv(run / "curve.csv"), pd.read_csv(run / "selected.csv")
    assert curve["n_labeled"].tolist() == [65, 130, 259] and curve["accuracy"].between(0.5, 1.0).all()
    bought = sel[sel["source"] != "initial"]
    assert len(sel) == 259 and len(bought) == 259 - 20  # smoke: 20 initial labels
    assert sel["pool_position"].is_unique and (bought["source"] == "strategy").all()
