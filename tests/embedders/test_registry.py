"""The contract every registered embedder inherits: one name for module, registry and YAML; the YAML's
keys and values are the options and their defaults; on a tiny generated array an embedder gives
(N, d) finite float32, deterministically, with the fitted rows untouched by items outside the fit
set; a resolver (``auto``) resolves to an embedder that accepts what it hands on."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from al_bench.embedders import EMBEDDERS, embed
from al_bench.embedders.weights import DINOV2

CONF = Path(__file__).resolve().parents[2] / "al_bench" / "conf" / "embedder"
NAMES = sorted(EMBEDDERS)
RESOLVING = [n for n in NAMES if EMBEDDERS.entry(n).resolves]
# frozen pretrained networks (not fitted on the pool) take seconds to build even at 28 px: slow tier;
# so does kmeans_patches' fit here (~2 s; test_kmeans_patches.py checks it in the default tier)
EMBEDDING = [pytest.param(n, marks=[pytest.mark.slow] if not EMBEDDERS.entry(n).fitted or n == "kmeans_patches"
                          else []) for n in NAMES if n not in RESOLVING]


def small_options(name, weights):
    """Options that keep embedder ``name`` fast and offline on a 16-pixel array (``weights``: a local
    DINOv2 checkpoint); a new embedder without an entry here runs with its defaults."""
    net = dict(image_size=28, weights=str(weights), batch_size=5, device="cpu")
    return {"pixels": {"max_dim": 8},
            "kmeans_patches": dict(image_size=16, patch=4, centroids=8, n_patches=2000, kmeans_iters=5, pca_dim=6),
            "dinov2_vits14": net,
            "timm": {**net, "model": DINOV2}}.get(name, {})


def test_yaml_stems_are_the_registry():
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_yaml_is_the_options_with_their_defaults(name):
    conf = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert conf.pop("name") == name
    assert conf == EMBEDDERS.options(name)


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    entry = EMBEDDERS.entry(name)
    assert isinstance(entry.fitted, bool) and isinstance(entry.resolves, bool)
    assert entry.key_info is None or callable(entry.key_info)
    assert entry.obj.__module__ == f"al_bench.embedders.{name}"  # one module per embedder, named alike


@pytest.mark.parametrize("name", EMBEDDING)
def test_features_are_finite_float32_deterministic_and_fitted_on_the_fit_items(name, stripes, dinov2_file,
                                                                                 offline_hub):
    imgs, _ = stripes(12, size=16)
    fit = np.arange(8)
    opts = small_options(name, dinov2_file[1])
    fn = EMBEDDERS[name]
    a = fn(imgs, fit, 0, **opts)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.ndim == 2 and a.shape[0] == 12
    assert a.shape[1] >= 1 and np.isfinite(a).all()
    assert np.array_equal(a, fn(imgs, fit, 0, **opts))
    other = imgs.copy()
    other[8:] = 255 - other[8:]  # items outside the fit set must not leak into what was fitted
    assert np.array_equal(fn(other, fit, 0, **opts)[fit], a[fit])


@pytest.mark.parametrize("name", EMBEDDING)
def test_cached_features_round_trip(name, stripes, dinov2_file, offline_hub, tmp_path):
    imgs, _ = stripes(6, size=16)
    opts = small_options(name, dinov2_file[1])
    first = embed(imgs, np.arange(6), name, "fp", tmp_path, 0, **opts)
    again = embed(imgs, np.arange(6), name, "fp", tmp_path, 0, **opts)
    assert again.from_cache and not first.from_cache and np.array_equal(again.features, first.features)
    assert first.cache_file.parent.name == name and again.embedder == name


@pytest.mark.parametrize("name", RESOLVING)
def test_resolvers_resolve_to_an_embedder_that_takes_the_options(name, stripes, offline_hub):
    for size in (8, 32):  # tiny images and ordinary ones
        imgs, _ = stripes(4, size=size)
        given = dict(EMBEDDERS.options(name))
        resolved, options = EMBEDDERS[name](imgs, given, **given)
        assert resolved in EMBEDDERS and resolved not in RESOLVING
        EMBEDDERS.check_options(resolved, options)
