"""The loop's checkpoint (al_bench.loop.checkpoint): a save reads back the same, a checkpoint of
another config or a damaged file is ignored, and a failing write leaves the last good file (or
none) and no temporary file behind."""

import logging

import numpy as np
import pytest

from al_bench.loop.checkpoint import Checkpoint


class _Boom:
    """An array argument that fails when written (a full disk, a killed serializer)."""

    def __array__(self, dtype=None, copy=None):
        raise OSError("no space left on device")


def _state():
    return {"labeled": np.array([4, 1, 7], np.int64), "is_labeled": np.array([False, True, False, True])}


def test_round_trip(tmp_path):
    ck = Checkpoint(tmp_path / "run" / "checkpoint.npz", "fp-1")
    assert not ck.exists()
    meta = {"round": 3, "curve": [{"n_labeled": 10, "accuracy": 0.5}], "peak_mb": 1.25}
    ck.save(meta=meta, dist_d=np.array([0.5, 2.0]), dist_near=None, **_state())
    assert ck.exists()
    st = ck.load()
    assert st["meta"] == meta
    np.testing.assert_array_equal(st["labeled"], _state()["labeled"])
    assert st["labeled"].dtype == np.int64
    np.testing.assert_array_equal(st["is_labeled"], _state()["is_labeled"])
    np.testing.assert_array_equal(st["dist_d"], [0.5, 2.0])
    assert st["dist_near"].shape == (0,)  # None is stored as an empty array
    assert str(st["fingerprint"]) == "fp-1"


def test_a_later_save_replaces_the_earlier_one(tmp_path):
    ck = Checkpoint(tmp_path / "checkpoint.npz", "fp")
    ck.save(meta={"round": 1}, dist_d=None, dist_near=None, **_state())
    ck.save(meta={"round": 2}, dist_d=None, dist_near=None, labeled=np.array([9]))
    st = ck.load()
    assert st["meta"] == {"round": 2} and st["labeled"].tolist() == [9] and "is_labeled" not in st


def test_another_fingerprint_is_refused(tmp_path, caplog):
    path = tmp_path / "checkpoint.npz"
    Checkpoint(path, "config-a").save(meta={}, dist_d=None, dist_near=None, **_state())
    with caplog.at_level(logging.WARNING, logger="al_bench.loop"):
        assert not Checkpoint(path, "config-b").exists()
    assert "another config" in caplog.text
    assert Checkpoint(path, "config-a").exists()


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_a_damaged_file_is_ignored(tmp_path, caplog, content):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="al_bench.loop"):
        assert not Checkpoint(path, "fp").exists()
    assert "unreadable checkpoint" in caplog.text


def test_a_failing_write_keeps_the_last_good_checkpoint_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "checkpoint.npz"
    ck = Checkpoint(path, "fp")
    ck.save(meta={"round": 1}, dist_d=None, dist_near=None, **_state())
    before = path.read_bytes()
    with pytest.raises(OSError, match="no space left"):  # fails after the first array is written
        ck.save(meta={"round": 2}, dist_d=None, dist_near=None, labeled=np.arange(5), broken=_Boom())
    assert path.read_bytes() == before
    assert ck.load()["meta"] == {"round": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_a_failing_first_write_leaves_nothing(tmp_path):
    ck = Checkpoint(tmp_path / "checkpoint.npz", "fp")
    with pytest.raises(OSError):
        ck.save(meta={}, dist_d=None, dist_near=None, labeled=np.arange(5), broken=_Boom())
    assert list(tmp_path.iterdir()) == [] and not ck.exists()


def test_remove(tmp_path):
    ck = Checkpoint(tmp_path / "checkpoint.npz", "fp")
    ck.save(meta={}, dist_d=None, dist_near=None, **_state())
    ck.remove()
    assert not ck.exists() and list(tmp_path.iterdir()) == []
    ck.remove()  # nothing there: no error
