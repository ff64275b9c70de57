from pathlib import Path

import numpy as np
import pytest

from al_bench.embedders import embed
from al_bench.errors import UserError

SMALL = dict(image_size=16, patch=4, centroids=8, n_patches=2000, kmeans_iters=5, pca_dim=0)


@pytest.mark.slow
def test_kmeans_patches_shape_determinism_and_pool_only_fit(stripes):
    imgs, y = stripes()
    fit = np.arange(16)
    a = embed(imgs, fit, "kmeans_patches", "fp", None, 0, **SMALL).features
    assert a.shape == (24, 32) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, embed(imgs, fit, "kmeans_patches", "fp", None, 0, **SMALL).features)
    # standardized on the fitting items
    assert np.allclose(a[fit].mean(axis=0), 0, atol=1e-4)
    # items outside the fit set do not influence anything fitted: change them, fit rows stay
    other = imgs.copy()
    other[16:] = 255 - other[16:]
    b = embed(other, fit, "kmeans_patches", "fp", None, 0, **SMALL).features
    assert np.array_equal(a[fit], b[fit]) and not np.array_equal(a[16:], b[16:])
    # the features separate stripe orientation, which raw pixel values at random phase do not
    c0, c1 = a[y == 0].mean(axis=0), a[y == 1].mean(axis=0)
    assert np.linalg.norm(c0 - c1) > 2.0
    # PCA on top, fitted on the fit rows too
    r = embed(imgs, fit, "kmeans_patches", "fp", None, 0, **{**SMALL, "pca_dim": 10}).features
    assert r.shape == (24, 10) and np.allclose(r[fit].mean(axis=0), 0, atol=1e-4)


def test_kmeans_patches_option_errors(stripes):
    imgs, _ = stripes(4)
    with pytest.raises(UserError, match="embedder.patch=20") as err:
        embed(imgs, np.arange(4), "kmeans_patches", "fp", None, 0, image_size=16, patch=20)
    assert str(err.value) == "embedder.patch=20: must be at least 2 and below embedder.image_size=16"
    assert (err.value.worded(lambda k: "--embedder-opt " + k.split(".", 1)[1])
            == "--embedder-opt patch=20: must be at least 2 and below --embedder-opt image_size=16")
    with pytest.raises(UserError, match="embedder.nope: not an option of embedder 'kmeans_patches'"):
        embed(imgs, np.arange(4), "kmeans_patches", "fp", None, 0, nope=1)
    with pytest.raises(UserError, match=r"embedder.centroids=1, embedder.n_patches=2000: need 2 <= centroids"):
        embed(imgs, np.arange(4), "kmeans_patches", "fp", None, 0, centroids=1, n_patches=2000)


@pytest.mark.slow
def test_kmeans_patches_beats_pixels_on_the_cifar_subset():
    """The offline embedder must carry real signal: linear probe on the full pool, CIFAR subset."""
    from al_bench.data import load_dataset, make_split
    from al_bench.heads.linear import LinearHead, LinearSettings

    path = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cifar10_subset.npz"
    assert path.is_file(), f"{path} is missing: ../shared sits beside the checkout here and in CI"
    ds = load_dataset("npz", path=str(path))
    sp = make_split(ds.labels, 0, 0.2, 0.1, ds.is_test)
    acc = {}
    for name in ("pixels", "kmeans_patches"):
        f = embed(ds.images, sp.pool, name, ds.fingerprint(), None, 0).features
        head = LinearHead(f.shape[1], ds.n_classes, LinearSettings(), 0).fit(f[sp.pool], ds.labels[sp.pool])
        acc[name] = float((head.logits(f[sp.test]).argmax(1) == ds.labels[sp.test]).mean())
    assert acc["kmeans_patches"] > 0.55 and acc["kmeans_patches"] > acc["pixels"] + 0.15, acc


@pytest.mark.parametrize("tty", [True, False])
def test_the_faiss_fit_shows_its_iterations_on_a_terminal_only(monkeypatch, capfd, tty):
    """FAISS's own per-iteration line (carriage returns) on a terminal; nothing in a log file."""
    import sys

    from al_bench.embedders.kmeans_patches import PatchFeatures

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (60, 12, 12, 3)).astype(np.uint8)
    PatchFeatures.fit(imgs, 6, 20, 2000, 0.1, 3, rng)
    out = capfd.readouterr().out
    assert ("Iteration 2" in out) == tty and ("\r" in out) == tty
