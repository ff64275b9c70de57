"""Embedders on real code paths: k-means patch features, a DINOv2 network built with random
weights and loaded back from a local file, the `auto` choice, and the cache and its lock."""

import logging
import multiprocessing as mp
import time

import numpy as np
import pytest
import torch

from al_bench import backbones
from al_bench.embed import EMBEDDERS, embed, register
from al_bench.errors import UserError


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and no network: what this project's machines have."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(backbones, "_cached_hub_file", lambda model: None)


def stripes(n=24, size=16, seed=0):
    """Horizontal (class 0) and vertical (class 1) stripes of random phase and colour."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    imgs = np.empty((n, size, size, 3), np.uint8)
    grid = np.arange(size)
    for i in range(n):
        wave = (np.sin(grid / 1.5 + rng.uniform(0, 6)) > 0).astype(np.uint8)
        img = np.tile(wave[:, None], (1, size)) if y[i] == 0 else np.tile(wave[None, :], (size, 1))
        imgs[i] = (img[..., None] * rng.integers(60, 255, 3)).astype(np.uint8)
    return imgs, y


SMALL = dict(image_size=16, patch=4, centroids=8, n_patches=2000, kmeans_iters=5, pca_dim=0)


def test_kmeans_patches_shape_determinism_and_pool_only_fit():
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


def test_kmeans_patches_option_errors():
    imgs, _ = stripes(4)
    with pytest.raises(UserError, match="embedder.patch=20"):
        embed(imgs, np.arange(4), "kmeans_patches", "fp", None, 0, image_size=16, patch=20)
    with pytest.raises(UserError, match="embedder.nope: not an option of embedder 'kmeans_patches'"):
        embed(imgs, np.arange(4), "kmeans_patches", "fp", None, 0, nope=1)


@pytest.fixture(scope="module")
def dinov2_file(tmp_path_factory):
    """DINOv2 ViT-S/14 as timm builds it, random weights, saved as a local checkpoint."""
    import timm

    torch.manual_seed(0)
    net = timm.create_model(backbones.DINOV2, pretrained=False, num_classes=0, img_size=28).eval()
    path = tmp_path_factory.mktemp("w") / "dinov2_random.pth"
    torch.save(net.state_dict(), path)
    return net, path


def test_dinov2_loads_local_weights_and_matches_a_direct_forward(dinov2_file, offline_hub, tmp_path):
    net, path = dinov2_file
    imgs, _ = stripes(5, size=20)
    e = embed(imgs, np.arange(5), "dinov2_vits14", "fp", tmp_path, 0, image_size=28, weights=str(path),
              batch_size=2, device="cpu")
    assert e.features.shape == (5, 384) and e.embedder == "dinov2_vits14"
    from PIL import Image

    x = np.stack([np.asarray(Image.fromarray(i).resize((28, 28), Image.BICUBIC)) for i in imgs])
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        ref = net((t - mean) / std).numpy()
    assert np.allclose(e.features, ref, atol=1e-4)
    # frozen network: one cache entry for every seed and split; a transform change is a new one
    again = embed(imgs, np.arange(2), "dinov2_vits14", "fp", tmp_path, 7, image_size=28, weights=str(path),
                  batch_size=2, device="cpu")
    assert again.from_cache and again.cache_file == e.cache_file
    other = embed(imgs, np.arange(5), "dinov2_vits14", "fp", tmp_path, 0, image_size=42, weights=str(path),
                  batch_size=2, device="cpu")
    assert not other.from_cache and other.cache_file != e.cache_file


def test_dinov2_without_weights_offline_names_both_options(offline_hub):
    imgs, _ = stripes(2)
    with pytest.raises(UserError) as err:
        embed(imgs, np.arange(2), "dinov2_vits14", "fp", None, 0)
    msg = str(err.value)
    assert "embedder.weights=PATH" in msg and "hub cache" in msg and "\n" not in msg
    with pytest.raises(UserError, match="embedder.weights: no such file"):
        embed(imgs, np.arange(2), "dinov2_vits14", "fp", None, 0, weights="/nonexistent/w.pth")


def test_wrong_weights_file_is_a_user_error(tmp_path, offline_hub):
    path = tmp_path / "wrong.pth"
    torch.save({"foo": torch.zeros(3)}, path)
    with pytest.raises(UserError, match="does not fit"):
        embed(stripes(2)[0], np.arange(2), "dinov2_vits14", "fp", None, 0, image_size=28, weights=str(path))


def test_auto_embedder_choices(dinov2_file, offline_hub, caplog, monkeypatch):
    monkeypatch.setattr(backbones, "_WARNED", set())  # the fallback warns loudly once per process
    digits_like = np.zeros((6, 8, 8, 1), np.uint8)
    digits_like[::2, 2:6, 3] = 255
    with caplog.at_level(logging.WARNING):
        assert embed(digits_like, np.arange(6), "auto", "fp", None, 0).embedder == "pixels"
        imgs, _ = stripes(12, size=32)
        name, opts = backbones.resolve_auto(imgs, {"weights": None})
    assert name == "kmeans_patches" and opts == {}
    assert "FALLING BACK to kmeans_patches" in caplog.text and "embedder.weights=PATH" in caplog.text
    _, path = dinov2_file
    assert backbones.resolve_auto(imgs, {"weights": str(path), "image_size": 28})[0] == "dinov2_vits14"


_CALLS = None


def _counting(images, fit_idx, seed, delay: float = 0.5):
    with open(_CALLS, "a") as f:
        f.write("computed\n")
    time.sleep(delay)
    return images.reshape(len(images), -1).astype(np.float32)


def _embed_in_child(cache_dir, calls, out):
    global _CALLS
    _CALLS = calls
    e = embed(np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1), np.arange(3), "_counting_test", "fp",
              cache_dir, 0)
    np.save(out, e.features)


def test_parallel_jobs_compute_a_cache_entry_once(tmp_path):
    ctx = mp.get_context("fork")  # children inherit the test embedder registered here
    calls = tmp_path / "calls.txt"
    register("_counting_test", fitted=False)(_counting)
    try:
        procs = [ctx.Process(target=_embed_in_child, args=(tmp_path / "cache", calls, tmp_path / f"out{i}.npy"))
                 for i in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
    finally:
        EMBEDDERS.pop("_counting_test")
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert calls.read_text().count("computed") == 1
    outs = [np.load(tmp_path / f"out{i}.npy") for i in range(3)]
    assert all(np.array_equal(outs[0], o) for o in outs)


@pytest.mark.slow
def test_kmeans_patches_beats_pixels_on_the_cifar_subset():
    """The offline embedder must carry real signal: linear probe on the full pool, CIFAR subset."""
    from pathlib import Path

    from al_bench.data import make_split
    from al_bench.datasets import load_dataset
    from al_bench.model import HeadSettings, LinearHead

    path = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar10_subset.npz"
    assert path.is_file(), f"{path} is missing: ../shared sits beside the checkout here and in CI"
    ds = load_dataset("npz", path=str(path))
    sp = make_split(ds.labels, 0, 0.2, 0.1, ds.is_test)
    acc = {}
    for name in ("pixels", "kmeans_patches"):
        f = embed(ds.images, sp.pool, name, ds.fingerprint(), None, 0).features
        head = LinearHead(f.shape[1], ds.n_classes, HeadSettings(), 0).fit(f[sp.pool], ds.labels[sp.pool])
        acc[name] = float((head.logits(f[sp.test]).argmax(1) == ds.labels[sp.test]).mean())
    assert acc["kmeans_patches"] > 0.55 and acc["kmeans_patches"] > acc["pixels"] + 0.15, acc


def test_nan_embeddings_are_refused_with_the_count(tmp_path):
    def broken(images, fit_idx, seed):
        out = images.reshape(len(images), -1).astype(np.float32)
        out[1, 2] = np.nan
        out[3, 0] = np.inf
        return out

    register("_nan_test", fitted=False)(broken)
    try:
        with pytest.raises(UserError, match="embedder _nan_test produced 2 NaN/inf values"):
            embed(np.zeros((4, 2, 2, 1), np.uint8), np.arange(4), "_nan_test", "fp", tmp_path, 0)
    finally:
        EMBEDDERS.pop("_nan_test")
    assert not list(tmp_path.rglob("*.npz"))  # nothing cached
