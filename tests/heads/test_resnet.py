"""model=resnet18 on CPU, tiny pool: the end-to-end path runs and offers every capability."""

import numpy as np
import pandas as pd
import pytest

from al_bench.heads.resnet import ResNetModel, ResNetSettings

TINY = ResNetSettings(image_size=16, steps=3, batch_size=8, device="cpu")


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = np.clip(rng.normal(60 + 60 * y[:, None, None, None], 20, (n, 12, 12, 3)), 0, 255).astype(np.uint8)
    return x, y


@pytest.mark.slow
def test_resnet_head_capabilities_and_determinism():
    x, y = _images()
    a = ResNetModel(0, 3, TINY, seed=1).fit(x, y)
    b = ResNetModel(0, 3, TINY, seed=1).fit(x, y)
    assert np.array_equal(a.logits(x), b.logits(x))
    p = a.predict_proba(x)
    assert p.shape == (24, 3) and np.allclose(p.sum(axis=1), 1)
    mc = a.sample_proba(x, 5, seed=0)
    assert mc.shape == (5, 24, 3) and np.allclose(mc.sum(axis=2), 1, atol=1e-5)
    assert not np.allclose(mc[0], mc[1])  # dropout masks differ between passes
    g, f = a.gradient_factors(x)
    assert g.shape == (24, 3) and f.shape == (24, 513) and np.allclose(f[:, -1], 1)
    assert np.allclose(g.sum(axis=1), 0, atol=1e-9)  # p − onehot sums to zero


@pytest.mark.slow
def test_resnet18_through_the_entry_point(tmp_path):
    """model=resnet18 runs every capability a strategy asks for (badge: gradients, bald: MC)."""
    from support import main as _main
    from support import one_run

    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    images = np.clip(rng.normal(80 + 90 * y[:, None, None, None], 25, (60, 8, 8, 3)), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", images=images, labels=y)
    out = tmp_path / "out"
    r = _main("-m", "dataset=npz", f"dataset.path={tmp_path / 'tiny.npz'}", "embedder=pixels", "model=resnet18",
              "model.steps=2", "model.batch_size=8", "model.image_size=16", "model.device=cpu",
              "strategy=badge,bald", "budget.fractions=[0.3,0.5]", "budget.initial=6", "budget.batch_size=5",
              f"paths.outputs_dir={out}", f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for strategy in ("badge", "bald"):
        curve = pd.read_csv(one_run(out, f"npz/pixels/resnet18/standard/{strategy}/seed0") / "curve.csv")
        assert curve["n_labeled"].tolist() == [13, 22] and set(curve["model"]) == {"resnet18"}
