import numpy as np
import pandas as pd
import pytest

from al_bench.data import duplicate_group, inject_near_duplicates, load_dataset, make_split
from al_bench.data.dataset import ImageDataset
from al_bench.data.images import ImageFiles
from al_bench.errors import UserError


def test_near_duplicates_join_the_pool_only_and_are_named_by_source():
    from al_bench.analysis import duplicate_picks

    ds = load_dataset("digits")
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


def test_off_is_identity_and_files_are_refused(tmp_path):
    ds = load_dataset("digits")
    split = make_split(ds.labels, seed=0)
    same, same_split = inject_near_duplicates(ds, split, 0.0, 3, 2.0, seed=0)
    assert same is ds and same_split is split
    on_disk = ImageDataset("f", ImageFiles(tmp_path, ["a.png"] * len(ds.labels)), ds.labels, ds.ids, ds.class_names)
    with pytest.raises(UserError) as err:
        inject_near_duplicates(on_disk, split, 0.1, 3, 2.0, seed=0)
    assert str(err.value) == ("dataset.near_duplicates needs images in memory (digits, npz, cifar10), "
                              "not image files")


def test_duplicate_group_strips_the_mark_only():
    assert duplicate_group(["a", "a#dup1", "b#dup12", "c#x"]).tolist() == ["a", "a", "b", "c#x"]
