import logging

import numpy as np
import pytest

from al_bench.embedders import EMBEDDERS, auto, embed
from al_bench.errors import UserError


@pytest.mark.slow
def test_auto_embedder_choices(dinov2_file, offline_hub, caplog, monkeypatch, stripes):
    monkeypatch.setattr(auto, "_WARNED", set())  # the fallback warns loudly once per process
    digits_like = np.zeros((6, 8, 8, 1), np.uint8)
    digits_like[::2, 2:6, 3] = 255
    with caplog.at_level(logging.WARNING):
        assert embed(digits_like, np.arange(6), "auto", "fp", None, 0).embedder == "pixels"
        imgs, _ = stripes(12, size=32)
        name, opts = auto.resolve_auto(imgs, {"weights": None}, weights=None)
    assert name == "kmeans_patches" and opts == {}
    assert "FALLING BACK to kmeans_patches" in caplog.text and "embedder.weights=PATH" in caplog.text
    _, path = dinov2_file
    given = {"weights": str(path), "image_size": 28}
    assert auto.resolve_auto(imgs, given, **given) == ("dinov2_vits14", given)


@pytest.mark.slow
def test_auto_is_a_resolver_with_dinov2s_options(dinov2_file, offline_hub, tmp_path, stripes):
    entry = EMBEDDERS.entry("auto")
    assert entry.resolves and entry.obj is auto.resolve_auto
    assert EMBEDDERS.options("auto") == EMBEDDERS.options("dinov2_vits14")
    with pytest.raises(UserError, match="embedder.max_dim: not an option of embedder 'auto'"):
        embed(np.zeros((2, 8, 8, 1), np.uint8), np.arange(2), "auto", "fp", None, 0, max_dim=3)
    # resolved to DINOv2, the options go on as given: the same cache entry as dinov2_vits14 itself
    imgs, _ = stripes(3, size=20)
    opts = dict(image_size=28, weights=str(dinov2_file[1]), device="cpu")
    a = embed(imgs, np.arange(3), "auto", "fp", tmp_path, 0, **opts)
    d = embed(imgs, np.arange(3), "dinov2_vits14", "fp", tmp_path, 0, **opts)
    assert a.embedder == "dinov2_vits14" and d.from_cache and d.cache_file == a.cache_file


def test_a_named_weights_file_that_fails_is_not_a_fallback(offline_hub, stripes):
    with pytest.raises(UserError, match="embedder.weights: no such file"):
        embed(stripes(4, size=32)[0], np.arange(4), "auto", "fp", None, 0, weights="/nonexistent/w.pth")
