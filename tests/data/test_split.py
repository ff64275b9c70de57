import numpy as np
import pytest

from al_bench.data import initial_labeled, make_split
from al_bench.errors import UserError


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


def test_split_errors_name_the_key():
    y = np.tile(np.arange(2), 10)
    with pytest.raises(UserError) as err:
        make_split(y, seed=0, is_test=np.zeros(20, bool))
    assert str(err.value) == "dataset: 'is_test' marks no items; drop it or mark the test items"
    assert err.value.key == "dataset"
    with pytest.raises(UserError, match="split leaves 0 pool and"):
        make_split(y, seed=0, test_fraction=0.5, calibration_fraction=1.0)


def test_initial_set_depends_on_seed_only():
    a = initial_labeled(500, 20, seed=1)
    assert a.tolist() == initial_labeled(500, 20, seed=1).tolist()
    assert len(np.unique(a)) == 20
    with pytest.raises(UserError, match="budget.initial") as err:
        initial_labeled(10, 20, seed=1)
    assert str(err.value) == "budget.initial=20 must be between 1 and the pool size 10"
    assert err.value.worded(lambda k: f"--{k.split('.')[-1]}") == "--initial=20 must be between 1 and the pool size 10"
