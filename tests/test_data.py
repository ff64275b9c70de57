import numpy as np
import pandas as pd
import pytest

from al_bench.data import initial_labeled, load_digits, make_split
from al_bench.datasets import load_dataset
from al_bench.embed import embed
from al_bench.errors import UserError


def test_digits_are_images():
    ds = load_digits()
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.uint8
    assert ds.n_classes == 10 and len(set(ds.ids)) == 1797


def test_split_is_disjoint_stratified_and_seeded():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    s = make_split(y, seed=3, test_fraction=0.2, calibration_fraction=0.1)
    parts = [s.pool, s.test, s.calibration]
    assert sum(map(len, parts)) == len(y)
    assert len(np.unique(np.concatenate(parts))) == len(y)
    assert np.bincount(y[s.test]).tolist() == [20, 10, 6, 4]
    again = make_split(y, seed=3, test_fraction=0.2, calibration_fraction=0.1)
    assert again.fingerprint() == s.fingerprint()
    assert make_split(y, seed=4).fingerprint() != s.fingerprint()


def test_split_respects_is_test():
    y = np.tile(np.arange(2), 50)
    is_test = np.zeros(100, bool)
    is_test[80:] = True
    s = make_split(y, seed=0, test_fraction=0.5, calibration_fraction=0.1, is_test=is_test)
    assert s.test.tolist() == list(range(80, 100))
    assert not np.isin(s.pool, s.test).any() and not np.isin(s.calibration, s.test).any()


def test_initial_set_depends_on_seed_only():
    a = initial_labeled(500, 20, seed=1)
    assert a.tolist() == initial_labeled(500, 20, seed=1).tolist()
    assert len(np.unique(a)) == 20
    with pytest.raises(UserError, match="budget.initial"):
        initial_labeled(10, 20, seed=1)


def test_npz_loader_and_its_errors(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)
    labels = np.array(["cat", "dog", "emu"] * 10)
    good = tmp_path / "good.npz"
    np.savez(good, images=images, labels=labels, is_test=np.arange(30) >= 24)
    ds = load_dataset("npz", path=str(good))
    assert ds.class_names == ("cat", "dog", "emu") and ds.is_test.sum() == 6
    np.savez(tmp_path / "nolabels.npz", images=images)
    with pytest.raises(UserError, match=r"nolabels.npz: missing array\(s\) \['labels'\]"):
        load_dataset("npz", path=str(tmp_path / "nolabels.npz"))
    with pytest.raises(UserError, match="no such file"):
        load_dataset("npz", path=str(tmp_path / "absent.npz"))
    np.savez(tmp_path / "oneclass.npz", images=images, labels=np.zeros(30))
    with pytest.raises(UserError, match="at least 2 classes"):
        load_dataset("npz", path=str(tmp_path / "oneclass.npz"))
    bad = images.astype(np.float32)
    bad[0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", images=bad, labels=labels)
    with pytest.raises(UserError, match="NaN"):
        load_dataset("npz", path=str(tmp_path / "nan.npz"))


def test_pixels_embedding_fitted_on_pool_only_and_cached(tmp_path):
    ds = load_digits()
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


def test_near_duplicates_join_the_pool_only_and_are_named_by_source():
    from al_bench.analysis import duplicate_picks
    from al_bench.data import duplicate_group, inject_near_duplicates

    ds = load_digits()
    split = make_split(ds.labels, seed=0)
    out, sp = inject_near_duplicates(ds, split, fraction=0.1, copies=3, noise=2.0, seed=0)
    k = int(round(0.1 * len(split.pool)))
    assert len(out.labels) == len(ds.labels) + 3 * k and len(sp.pool) == len(split.pool) + 3 * k
    assert np.array_equal(sp.test, split.test) and np.array_equal(sp.calibration, split.calibration)
    new = sp.pool[len(split.pool):]
    src = np.array([np.flatnonzero(ds.ids == g)[0] for g in duplicate_group(out.ids[new])])
    assert np.isin(src, split.pool).all() and np.array_equal(out.labels[new], ds.labels[src])
    diff = np.abs(out.images[new].astype(int) - ds.images[src].astype(int))
    assert 0 < diff.mean() < 4 and diff.max() <= 20  # near, not equal
    again, _ = inject_near_duplicates(ds, split, 0.1, 3, 2.0, seed=0)
    assert np.array_equal(again.images, out.images)
    # redundant picks: a copy bought after its source (or another copy) counts once per repeat
    sel = pd.DataFrame({"strategy": "s", "seed": 0, "round": [0, 1, 1, 1, 2, 2],
                        "id": ["a", "b", "b#dup1", "c", "a#dup2", "d"]})
    assert duplicate_picks(sel)[["round", "picks", "redundant"]].values.tolist() == [[1, 3, 1], [2, 2, 1]]
