import numpy as np
import pytest

from al_bench.data import load_dataset, make_split
from al_bench.embedders import embed
from al_bench.errors import UserError


def test_pixels_embedding_fitted_on_pool_only_and_cached(tmp_path):
    ds = load_dataset("digits")
    s = make_split(ds.labels, seed=0)
    e1 = embed(ds.images, s.pool, "pixels", ds.fingerprint(), tmp_path, seed=0, max_dim=16)
    assert e1.features.shape == (1797, 16) and not e1.from_cache
    e2 = embed(ds.images, s.pool, "pixels", ds.fingerprint(), tmp_path, seed=0, max_dim=16)
    assert e2.from_cache and e2.checksum == e1.checksum
    # fitted on the pool: the pool features are centred, the test features need not be
    assert np.abs(e1.features[s.pool].mean(0)).max() < 1e-4
    # a different fitting set is a different cache entry, and different features
    other = make_split(ds.labels, seed=1)
    e3 = embed(ds.images, other.pool, "pixels", ds.fingerprint(), tmp_path, seed=0, max_dim=16)
    assert not e3.from_cache and e3.checksum != e1.checksum
    with pytest.raises(UserError, match="not an option"):
        embed(ds.images, s.pool, "pixels", ds.fingerprint(), tmp_path, seed=0, max_dims=16)


def test_pixels_unit_variance_and_max_dim_error(stripes):
    imgs, _ = stripes(12)
    f = embed(imgs, np.arange(12), "pixels", "fp", None, 0, max_dim=4).features
    assert f.shape == (12, 4) and np.isclose(f.var(axis=0, ddof=1).mean(), 1.0, atol=1e-4)
    with pytest.raises(UserError) as err:
        embed(imgs, np.arange(12), "pixels", "fp", None, 0, max_dim=0)
    assert str(err.value) == "embedder.max_dim must be >= 1, got 0"
