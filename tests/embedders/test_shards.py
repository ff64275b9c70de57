"""al-bench-embed: shards on batch boundaries, each a verified cache entry; sharded = unsharded
byte for byte; a rerun embeds only what is missing or damaged; a failed shard writes no pool."""

import numpy as np
import pytest
from PIL import Image

from al_bench.cli.embed import main
from al_bench.embedders import shards as S
from al_bench.picking.features_file import read_features


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("imgs")
    (root / "sub dir").mkdir()
    for i in range(21):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
            root / ("sub dir" if i % 3 else "") / f"im_{i:02d}.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


def _argv(folder, w, out, cache, *extra):
    return ["--images-dir", str(folder), "--embedder", "dinov2_vits14", "--embedder-opt", f"weights={w}",
            "--embedder-opt", "image_size=28", "--embedder-opt", "batch_size=4", "--embedder-opt", "device=cpu",
            "--out", str(out), "--cache-dir", str(cache), "--quiet", *extra]


def test_plan_cuts_on_batch_boundaries(tmp_path):
    ids = [f"{i}.png" for i in range(21)]
    for i in ids:
        (tmp_path / i).write_bytes(b"x")
    plan = S.plan_shards(tmp_path, ids, 4, 4)
    assert [(s.start, s.stop) for s in plan] == [(0, 4), (4, 12), (12, 16), (16, 21)]
    assert len(S.plan_shards(tmp_path, ids, 50, 4)) == 6  # never more shards than batches
    assert len({s.fingerprint for s in plan}) == 4


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_sharded_equals_unsharded_byte_for_byte_and_reruns_embed_only_what_is_missing(folder, tmp_path, dinov2_file,
                                                                                    monkeypatch, capsys):
    w = dinov2_file[1]
    assert main(_argv(folder, w, tmp_path / "one.npz", tmp_path / "c1", "--shards", "1")) == 0
    assert main(_argv(folder, w, tmp_path / "four.npz", tmp_path / "c4", "--shards", "4")) == 0
    one, four = np.load(tmp_path / "one.npz"), np.load(tmp_path / "four.npz")
    assert one["features"].tobytes() == four["features"].tobytes() and one["features"].shape == (21, 384)
    assert one["ids"].tolist() == four["ids"].tolist() and "broken.jpg" not in four["ids"].tolist()
    ff = read_features(tmp_path / "four.npz")  # what al-bench-select --features reads: memory-mapped
    assert ff.mapped and ff.ids == four["ids"].tolist()

    calls = []
    real = S.embed_shard
    monkeypatch.setattr(S, "embed_shard", lambda *a: calls.append(len(a[1])) or real(*a))
    capsys.readouterr()
    assert main(_argv(folder, w, tmp_path / "again.npz", tmp_path / "c4", "--shards", "4")) == 0
    assert calls == [] and "4 already embedded, 0 to embed" in capsys.readouterr().err
    entries = sorted((tmp_path / "c4" / "embeddings" / "dinov2_vits14").glob("*.npz"))
    assert len(entries) == 4
    entries[1].write_bytes(entries[1].read_bytes()[:100])  # a shard's entry cut short
    assert main(_argv(folder, w, tmp_path / "fixed.npz", tmp_path / "c4", "--shards", "4")) == 0
    assert len(calls) == 1 and "is embedded again" in capsys.readouterr().err
    assert np.load(tmp_path / "fixed.npz")["features"].tobytes() == one["features"].tobytes()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_failed_shard_writes_no_pool_and_the_rerun_finishes_it(folder, tmp_path, dinov2_file, monkeypatch, capsys):
    w = dinov2_file[1]
    real = S.embed_shard

    def flaky(root, ids, *rest):
        if "sub dir/im_10.png" in ids:
            raise RuntimeError("node lost")
        return real(root, ids, *rest)

    monkeypatch.setattr(S, "embed_shard", flaky)
    out = tmp_path / "pool.npz"
    assert main(_argv(folder, w, out, tmp_path / "c", "--shards", "4")) == 1
    err = capsys.readouterr().err
    assert "FAILED shard" in err and "node lost" in err and "1 of 4 shard(s) failed" in err and not out.exists()
    monkeypatch.setattr(S, "embed_shard", real)
    assert main(_argv(folder, w, out, tmp_path / "c", "--shards", "4")) == 0
    assert "3 already embedded, 1 to embed" in capsys.readouterr().err and out.is_file()


def test_fitted_embedders_and_bad_flags_are_refused(folder, tmp_path, capsys):
    assert main(["--images-dir", str(folder), "--embedder", "pixels", "--out", str(tmp_path / "p.npz")]) == 2
    assert "fitted on the whole pool" in capsys.readouterr().err
    assert main(["--images-dir", str(folder), "--embedder", "auto", "--out", str(tmp_path / "p.npz")]) == 2
    assert main(["--images-dir", str(folder), "--out", str(tmp_path / "p.npy")]) == 2
    assert main(["--images-dir", str(folder), "--slurm-opt", "mem_gb=4", "--out", str(tmp_path / "p.npz")]) == 2
    assert "--slurm-opt is for --launcher slurm" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


class _Job:
    def __init__(self, job_id, result=None, error=None, done_after=0):
        self.job_id, self._result, self._error, self._polls = job_id, result, error, done_after

    def done(self):
        self._polls -= 1
        return self._polls < 0 and (self._result is not None or self._error is not None)

    def result(self):
        if self._error:
            raise RuntimeError(self._error)
        return self._result


def test_waiting_on_slurm_jobs_names_failed_and_vanished_shards_and_never_hangs():
    plan = [S.Shard(i, 10 * i, 10 * i + 10, f"fp{i}") for i in range(3)]
    ok = _Job("7_0", {"rows": 10, "seconds": 1.0}, done_after=2)
    cancelled = _Job("7_1", error="Job 7_1 has not produced any output (state: CANCELLED by 0)")
    vanished = _Job("7_2")  # cancelled while pending: never done, no longer queued
    said = []
    failed = S.wait_jobs(list(zip(plan, [ok, cancelled, vanished])), said.append, 0.0,
                         in_queue=lambda j: j == "7_0", grace=0.05, poll=0.01)
    assert len(failed) == 2
    assert failed[0].startswith("shard 1 (rows 10-19), job 7_1: Job 7_1 has not produced any output")
    assert failed[1].startswith("shard 2 (rows 20-29), job 7_2: left the queue") and "cancelled before it ran" in failed[1]
    assert any(line.startswith("shard 0: 10 image(s)") for line in said)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_merge_into_a_read_only_folder_says_so_and_leaves_nothing(tmp_path, monkeypatch, dinov2_file):
    import os

    from al_bench.errors import UserError

    ids = [f"{i}.png" for i in range(8)]
    for i in ids:
        (tmp_path / i).write_bytes(b"x")
    plan = S.plan_shards(tmp_path, ids, 2, 4)
    opts = {"weights": str(dinov2_file[1])}
    feats = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
    from al_bench.embedders import cache

    for s in plan:  # each shard's verified entry, as a job writes it
        key, path = S._entry(s, "dinov2_vits14", opts, tmp_path / "c")
        part = feats[s.start : s.stop]
        cache.write(path, part, {"key": key, "shape": list(part.shape), "checksum": cache.checksum(part)})
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):  # root writes anywhere: a full disk instead
            monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
        with pytest.raises(UserError, match="cannot write"):
            S.merge(plan, ids, "dinov2_vits14", opts, tmp_path / "c", ro / "pool.npz")
        assert list(ro.iterdir()) == []
    finally:
        os.chmod(ro, 0o700)
    monkeypatch.undo()
    info = S.merge(plan, ids, "dinov2_vits14", opts, tmp_path / "c", tmp_path / "pool.npz")
    assert info["rows"] == 8 and np.array_equal(np.load(tmp_path / "pool.npz")["features"], feats)
