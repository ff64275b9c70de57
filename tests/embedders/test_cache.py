"""The embedding cache: key material (with the code that computes the features), one computation per
entry under parallel jobs, entries checked against their manifest on every read."""

import importlib
import json
import logging
import multiprocessing as mp
import sys
import time

import numpy as np
import pytest

from al_bench.embedders import EMBEDDERS, cache, code_digest, embed


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
    coded = cache.cache_key("fp", fit, "e", {"a": 1}, 0, fitted=True, code={"sha256": "c", "modules": ["m"]})
    assert coded[1]["code"] == {"sha256": "c", "modules": ["m"]} and coded[0] != k
    assert cache.cache_key("fp", fit, "e", {"a": 1}, 0, fitted=True, code={"sha256": "d", "modules": ["m"]})[0] \
        != coded[0]


def test_the_code_digest_covers_the_modules_that_compute_the_features():
    common = {"al_bench.embedders", "al_bench.embedders.cache", "al_bench.data.images"}
    assert set(code_digest("pixels")["modules"]) == common | {"al_bench.embedders.pixels", "al_bench.rng"}
    assert set(code_digest("kmeans_patches")["modules"]) == common | {"al_bench.embedders.kmeans_patches",
                                                                     "al_bench.rng"}
    for name in ("dinov2_vits14", "timm"):  # frozen: no random streams, but the shared timm code
        assert set(code_digest(name)["modules"]) == common | {f"al_bench.embedders.{name}",
                                                             "al_bench.embedders.weights"}
    for name in EMBEDDERS:
        if not EMBEDDERS.entry(name).resolves:
            assert len(code_digest(name)["sha256"]) == 64


def _module(tmp_path, monkeypatch, request, name, body):
    """A module ``name`` written under ``tmp_path`` and imported; forgotten after the test."""
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    request.addfinalizer(lambda: sys.modules.pop(name, None))
    return importlib.import_module(name)


_EMBEDDER_SRC = """import numpy as np

def flat(images, fit_idx, seed):
    return images.reshape(len(images), -1).astype(np.float32)
"""


def test_editing_the_embedder_or_a_module_it_declares_recomputes(tmp_path, monkeypatch, request, register_embedder):
    """Issue 14.3: the key held the package version, so an edited embedder reused its stale features."""
    mod = _module(tmp_path, monkeypatch, request, "_al_bench_test_emb_src", _EMBEDDER_SRC)
    _module(tmp_path, monkeypatch, request, "_al_bench_test_emb_dep", "SCALE = 1\n")
    register_embedder("_code_test", mod.flat, fitted=False, code=("_al_bench_test_emb_dep",))
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    cache_dir = tmp_path / "cache"
    first = embed(imgs, np.arange(3), "_code_test", "fp", cache_dir, 0)
    assert not first.from_cache and embed(imgs, np.arange(3), "_code_test", "fp", cache_dir, 0).from_cache
    (tmp_path / "_al_bench_test_emb_src.py").write_text(_EMBEDDER_SRC + "# edited\n")
    edited = embed(imgs, np.arange(3), "_code_test", "fp", cache_dir, 0)
    assert not edited.from_cache and edited.cache_file != first.cache_file
    (tmp_path / "_al_bench_test_emb_dep.py").write_text("SCALE = 2\n")
    dep = embed(imgs, np.arange(3), "_code_test", "fp", cache_dir, 0)
    assert not dep.from_cache and dep.cache_file not in (first.cache_file, edited.cache_file)
    modules = json.loads(dep.cache_file.with_suffix(".json").read_text())["code"]["modules"]  # what the key covers
    assert {"_al_bench_test_emb_src", "_al_bench_test_emb_dep", "al_bench.data.images"} <= set(modules)


def test_a_changed_code_digest_recomputes(tmp_path, monkeypatch, register_embedder):
    """What an edit of a shared module (al_bench/data/images.py, weights.py …) does to the key."""
    register_embedder("_digest_test", lambda images, fit_idx, seed: images.reshape(len(images), -1), fitted=True)
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    first = embed(imgs, np.arange(3), "_digest_test", "fp", tmp_path, 0)
    real = cache.code_digest
    monkeypatch.setattr(cache, "code_digest", lambda obj, modules: {**real(obj, modules), "sha256": "0" * 64})
    again = embed(imgs, np.arange(3), "_digest_test", "fp", tmp_path, 0)
    assert not again.from_cache and again.cache_file != first.cache_file


def _damage(path, kind, feats):
    """Spoil the cache entry at ``path`` (features ``feats``) in one way."""
    manifest_path = path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    if kind == "zeros":  # the right shape and dtype, wrong numbers: only the checksum tells
        np.savez(path, features=np.zeros_like(feats))
    elif kind == "short":  # fewer rows than images: used to raise IndexError on every rerun
        np.savez(path, features=feats[:-1])
    elif kind == "short_with_its_manifest":  # short, and a manifest that agrees with it
        np.savez(path, features=feats[:-1])
        manifest.update(shape=list(feats[:-1].shape), checksum=cache.checksum(feats[:-1]))
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "nan":  # a NaN with a matching checksum: only the finiteness check tells
        bad = feats.copy()
        bad[1, 0] = np.nan
        np.savez(path, features=bad)
        manifest["checksum"] = cache.checksum(bad)
        manifest_path.write_text(json.dumps(manifest))
    elif kind == "float64":
        np.savez(path, features=feats.astype(np.float64))
    elif kind == "garbage":
        path.write_bytes(b"garbage")
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif kind == "no_manifest":
        manifest_path.unlink()
    elif kind == "bad_manifest":
        manifest_path.write_text("{not json")
    elif kind == "manifest_without_checksum":
        del manifest["checksum"]
        manifest_path.write_text(json.dumps(manifest))


DAMAGE = {"zeros": "sha256", "short": "shape (2, 4), expected (3, 4)", "short_with_its_manifest": "expected (3, 4)",
          "nan": "1 NaN/inf values", "float64": "dtype float64", "garbage": "unreadable", "truncated": "unreadable",
          "no_manifest": "is missing", "bad_manifest": "is damaged", "manifest_without_checksum": "is damaged"}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_cache_entry_that_does_not_match_its_manifest_is_recomputed(kind, tmp_path, caplog, register_embedder):
    """Issue 14.3: an all-zero file ran "ok" at chance, a short one raised IndexError on every rerun."""
    register_embedder("_verify_test", lambda images, fit_idx, seed: images.reshape(len(images), -1) + 1.0,
                      fitted=True)
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    first = embed(imgs, np.arange(3), "_verify_test", "fp", tmp_path, 0)
    _damage(first.cache_file, kind, first.features)
    with caplog.at_level(logging.WARNING, logger="al_bench.embedders"):
        again = embed(imgs, np.arange(3), "_verify_test", "fp", tmp_path, 0)
    assert not again.from_cache and again.cache_file == first.cache_file
    assert again.features.shape == (3, 4) and np.array_equal(again.features, first.features)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # said once, naming the file and the reason
    assert str(first.cache_file) in warnings[0] and DAMAGE[kind] in warnings[0] and "recomputing" in warnings[0]
    caplog.clear()
    fixed = embed(imgs, np.arange(3), "_verify_test", "fp", tmp_path, 0)  # overwritten: good again
    assert fixed.from_cache and fixed.checksum == first.checksum and not caplog.records


def test_a_good_cache_entry_is_used_without_a_warning(tmp_path, caplog, register_embedder):
    calls = []

    def counted(images, fit_idx, seed):
        calls.append(1)
        return images.reshape(len(images), -1)

    register_embedder("_good_test", counted, fitted=False)
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    first = embed(imgs, np.arange(3), "_good_test", "fp", tmp_path, 0)
    with caplog.at_level(logging.WARNING):
        again = embed(imgs, np.arange(3), "_good_test", "fp", tmp_path, 0)
    assert again.from_cache and calls == [1] and again.checksum == first.checksum
    assert again.features.dtype == np.float32 and not caplog.records
    manifest = json.loads(first.cache_file.with_suffix(".json").read_text())
    assert manifest["shape"] == [3, 4] and manifest["checksum"] == first.checksum


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


@pytest.mark.slow
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
