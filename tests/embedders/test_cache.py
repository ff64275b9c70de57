"""The embedding cache: key material, one computation per entry under parallel jobs, damaged files."""

import multiprocessing as mp
import time

import numpy as np

from al_bench.embedders import cache, embed


def test_key_covers_fit_items_and_seed_only_when_fitted(monkeypatch):
    monkeypatch.setattr(cache, "_versions", lambda: {"al_bench": "v"})
    fit, other = np.arange(3), np.arange(4)
    k, desc = cache.cache_key("fp", fit, "e", {"a": 1}, 0, fitted=True)
    # the key material as al_bench 0.1.0 wrote it (computed with the pre-restructuring code): a change
    # orphans every cache entry users have
    assert desc == {"dataset": "fp", "embedder": "e", "options": {"a": 1}, "versions": {"al_bench": "v"},
                    "fit_items": "ab25350e3e65efebe24584461683ecda68725576e825e550038b90e7b1479946", "seed": 0}
    assert k == "fc4ecc2b9721da1f082e9d94dd189d9557735ba6f33c2b84b439367c24452fa4"
    assert cache.cache_key("fp", other, "e", {"a": 1}, 0, fitted=True)[0] != k
    assert cache.cache_key("fp", fit, "e", {"a": 1}, 1, fitted=True)[0] != k
    frozen = cache.cache_key("fp", fit, "e", {"a": 1}, 0, fitted=False)[0]
    assert cache.cache_key("fp", other, "e", {"a": 1}, 1, fitted=False)[0] == frozen
    extra = cache.cache_key("fp", fit, "e", {"a": 1}, 0, fitted=False, key_info=lambda o: {"w": o["a"]})
    assert extra[1]["w"] == 1 and extra[0] != frozen


def test_a_damaged_cache_file_is_recomputed(tmp_path, register_embedder):
    register_embedder("_flat_test", lambda images, fit_idx, seed: images.reshape(len(images), -1), fitted=False)
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    first = embed(imgs, np.arange(3), "_flat_test", "fp", tmp_path, 0)
    first.cache_file.write_bytes(b"garbage")
    again = embed(imgs, np.arange(3), "_flat_test", "fp", tmp_path, 0)
    assert not again.from_cache and again.checksum == first.checksum
    assert embed(imgs, np.arange(3), "_flat_test", "fp", tmp_path, 0).from_cache
    assert first.cache_file.with_suffix(".json").is_file()


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


def test_parallel_jobs_compute_a_cache_entry_once(tmp_path, register_embedder):
    ctx = mp.get_context("fork")  # children inherit the test embedder registered here
    calls = tmp_path / "calls.txt"
    register_embedder("_counting_test", _counting, fitted=False)
    procs = [ctx.Process(target=_embed_in_child, args=(tmp_path / "cache", calls, tmp_path / f"out{i}.npy"))
             for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert calls.read_text().count("computed") == 1
    outs = [np.load(tmp_path / f"out{i}.npy") for i in range(3)]
    assert all(np.array_equal(outs[0], o) for o in outs)
