"""Shared embedder fixtures: no network, generated stripe images, a DINOv2 checkpoint with random
weights, and embedders registered for one test only."""

import numpy as np
import pytest
import torch

from al_bench.embedders import EMBEDDERS, weights


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and no network: what this project's machines have."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(weights, "_cached_hub_file", lambda model: None)


def make_stripes(n=24, size=16, seed=0):
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


@pytest.fixture
def stripes():
    """``stripes(n=24, size=16, seed=0)`` → (images (n, size, size, 3) uint8, labels (n,))."""
    return make_stripes


@pytest.fixture(scope="session")
def dinov2_file(tmp_path_factory):
    """DINOv2 ViT-S/14 as timm builds it, random weights, saved as a local checkpoint."""
    import timm

    torch.manual_seed(0)
    net = timm.create_model(weights.DINOV2, pretrained=False, num_classes=0, img_size=28).eval()
    path = tmp_path_factory.mktemp("w") / "dinov2_random.pth"
    torch.save(net.state_dict(), path)
    return net, path


@pytest.fixture
def register_embedder():
    """``register_embedder(name, fn, fitted=...)``: an embedder that exists for this test only."""
    added = []

    def add(name, fn, **meta):
        EMBEDDERS.register(name, **meta)(fn)
        added.append(name)

    yield add
    for name in added:  # the registry has no public removal: tests only
        EMBEDDERS.unregister(name)
