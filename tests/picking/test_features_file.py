"""Bring your own embeddings: .npy / .npz / Parquet read as written (memory-mapped where the
format allows), ids matched to a folder, mismatches named, and al-bench-select --features."""

import os
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from picking.image_folder import make_folder

import al_bench
from al_bench.cli.select import main
from al_bench.errors import UserError
from al_bench.picking.features_file import match_ids, read_features


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("imgs"))


def _vectors(n: int, d: int = 12, dtype=np.float16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)


def _ids(n: int) -> list[str]:
    return [f"cam/{i:04d} é,x.jpg" for i in range(n)]  # a comma, a space and a non-ASCII letter


def test_npy_is_memory_mapped_in_its_own_dtype_with_ids_from_a_file(tmp_path):
    x = _vectors(50)
    np.save(tmp_path / "f.npy", x)
    (tmp_path / "ids.txt").write_text("\n".join(_ids(50)) + "\n", encoding="utf-8")
    ff = read_features(tmp_path / "f.npy", tmp_path / "ids.txt")
    assert isinstance(ff.vectors, np.memmap) and ff.mapped
    assert ff.vectors.dtype == np.float16 and np.array_equal(np.asarray(ff.vectors), x)
    assert ff.ids == _ids(50)
    pd.DataFrame({"id": _ids(50)}).to_csv(tmp_path / "ids.csv", index=False)
    assert read_features(tmp_path / "f.npy", tmp_path / "ids.csv").ids == _ids(50)


def test_npz_stored_is_mapped_and_compressed_is_read_with_equal_values(tmp_path):
    x = _vectors(30, dtype=np.float32)
    np.savez(tmp_path / "s.npz", ids=np.array(_ids(30)), features=x)
    np.savez_compressed(tmp_path / "c.npz", ids=np.array(_ids(30)), features=x)
    s, c = read_features(tmp_path / "s.npz"), read_features(tmp_path / "c.npz")
    assert s.mapped and isinstance(s.vectors, np.memmap) and not c.mapped
    assert np.array_equal(np.asarray(s.vectors), x) and np.array_equal(c.vectors, x)
    assert s.ids == c.ids == _ids(30)
    with zipfile.ZipFile(tmp_path / "s.npz") as z:  # the map reads the member's bytes, not the zip's
        assert z.getinfo("features.npy").compress_type == zipfile.ZIP_STORED


def test_parquet_written_by_pandas_and_a_float16_fixed_size_list_read_alike(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    x = _vectors(70)
    pd.DataFrame({"id": _ids(70), "features": list(x.astype(np.float32))}).to_parquet(tmp_path / "p.parquet")
    a = read_features(tmp_path / "p.parquet")
    assert a.vectors.dtype == np.float32 and np.array_equal(a.vectors, x.astype(np.float32)) and a.ids == _ids(70)
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float16()), x.shape[1])
    pq.write_table(pa.table({"id": _ids(70), "emb": col}), tmp_path / "h.parquet", row_group_size=16)  # 5 groups
    b = read_features(tmp_path / "h.parquet")
    assert b.vectors.dtype == np.float16 and np.array_equal(b.vectors, x) and b.ids == _ids(70)
    # a column named that is not there is named as such, with the columns there are
    with pytest.raises(UserError, match="no vector column 'nope'; its columns beside 'id': emb"):
        read_features(tmp_path / "h.parquet", column="nope")


@pytest.mark.parametrize("case, words", [
    ("count", "3 id(s) for 4 vector(s)"),
    ("dup", "1 repeated id(s): b"),
    ("nan", "1 vector(s) hold NaN or infinity (first: c)"),
    ("int", "vectors must be floats"),
    ("no_ids", "an .npy holds no ids"),
    ("ragged", "vectors of different lengths"),
    ("no_id_column", "needs an 'id' column"),
    ("text_as_npy", "is not a NumPy array file"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, case, words):
    pytest.importorskip("pyarrow")
    x, ids = _vectors(4), ["a", "b", "c", "d"]
    path = tmp_path / "f.npy"
    if case == "count":
        np.save(path, x)
        ids = ids[:3]
    elif case == "dup":
        np.save(path, x)
        ids = ["a", "b", "b", "d"]
    elif case == "nan":
        x[2, 5] = np.nan
        np.save(path, x)
    elif case == "int":
        np.save(path, np.ones((4, 3), np.int64))
    elif case == "no_ids":
        np.save(path, x)
        ids = None
    elif case == "ragged":
        path = tmp_path / "f.parquet"
        pd.DataFrame({"id": ids, "features": [[1.0, 2.0]] * 3 + [[1.0]]}).to_parquet(path)
        ids = None
    elif case == "no_id_column":
        path = tmp_path / "f.parquet"
        pd.DataFrame({"name": ids, "features": [[1.0, 2.0]] * 4}).to_parquet(path)
        ids = None
    else:
        path.write_text("id,x\na,1\n")
    with pytest.raises(UserError) as e:
        read_features(path, ids)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_ids_must_match_the_folder_both_ways():
    match_ids(["a", "b"], ["a", "b"], ["a", "b", "broken.jpg"], "--features f", "/x")  # an unreadable file may lack one
    with pytest.raises(UserError) as e:
        match_ids(["a", "z1", "z2"], ["a", "b"], ["a", "b"], "--features f", "/x")
    msg = str(e.value)
    assert "1 image file(s) under /x have no vector (first: b)" in msg
    assert "2 id(s) are not image files under /x (first: z1, z2)" in msg and "nothing was written" in msg


def _folder_npy(folder, tmp_path, dtype=np.float16):
    """The folder's every image file (sorted, --list-ids order) with a vector each, as an .npy."""
    from al_bench.picking.folder import find_images

    found = find_images(folder, [], lambda s: None)[1]
    x = _vectors(len(found), dtype=dtype, seed=3)
    np.save(tmp_path / "emb.npy", x)
    return found, x


def test_command_with_a_folder_picks_what_the_library_picks_on_the_same_vectors(folder, tmp_path):
    found, x = _folder_npy(folder, tmp_path)
    out = tmp_path / "sel"
    rc = main(["--images-dir", str(folder), "--features", str(tmp_path / "emb.npy"), "-n", "6", "--out", str(out),
               "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert rc == 0
    got = pd.read_csv(out / "selection.csv", keep_default_na=False)["id"].tolist()
    readable = [s for s in found if not s.startswith(("broken", "empty"))]
    keep = [found.index(s) for s in readable]
    want = al_bench.select(readable, x[keep], 6, strategy="kcenter")
    assert got == list(want.ids)
    assert (out / "mosaic.png").is_file() and (out / "label_studio.json").is_file()
    hand = yaml.safe_load((out / "selection.yaml").read_text(encoding="utf-8"))
    assert hand["source"]["embedder"].startswith("given: ") and hand["source"]["features"]["dtype"] == "float16"
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npy"))  # nothing embedded


def test_command_on_ids_alone_writes_the_hand_off_without_the_mosaic(tmp_path):
    ids, x = _ids(60), _vectors(60, dtype=np.float32)
    np.savez(tmp_path / "emb.npz", ids=np.array(ids), features=x)
    pd.DataFrame({"id": ids[:6], "label": ["a", "b"] * 3}).to_csv(tmp_path / "lab.csv", index=False)
    out = tmp_path / "sel"
    assert main(["--features", str(tmp_path / "emb.npz"), "-n", "5", "--labeled", str(tmp_path / "lab.csv"),
                 "--strategy", "margin", "--out", str(out), "--quiet"]) == 0
    got = pd.read_csv(out / "selection.csv", keep_default_na=False)["id"].tolist()
    want = al_bench.select(ids, x, 5, strategy="margin", labeled=ids[:6], labels=["a", "b"] * 3)
    assert got == list(want.ids) and not set(got) & set(ids[:6])
    assert sorted(p.name for p in out.iterdir()) == [".al_bench_output", "selection.csv", "selection.yaml"]
    src = yaml.safe_load((out / "selection.yaml").read_text(encoding="utf-8"))["source"]
    assert src["rows"] == 60 and src["labeled"] == 6 and src["candidates"] == 54


def test_command_mismatches_and_misused_flags_write_nothing(folder, tmp_path, capsys):
    found, x = _folder_npy(folder, tmp_path)
    np.save(tmp_path / "short.npy", x[:-1])
    out = tmp_path / "sel"
    base = ["-n", "3", "--out", str(out), "--quiet"]
    assert main(["--images-dir", str(folder), "--features", str(tmp_path / "short.npy"), *base]) == 2
    assert f"{len(found)} id(s) for {len(found) - 1} vector(s)" in capsys.readouterr().err  # ids: the folder's files
    np.savez(tmp_path / "other.npz", ids=np.array(["x.jpg", "y.jpg"]), features=x[:2])
    assert main(["--images-dir", str(folder), "--features", str(tmp_path / "other.npz"), *base]) == 2
    err = capsys.readouterr().err
    assert "2 id(s) are not image files" in err and "have no vector" in err
    pd.DataFrame({"id": ["nope.jpg"]}).to_csv(tmp_path / "lab.csv", index=False)
    assert main(["--features", str(tmp_path / "other.npz"), "--labeled", str(tmp_path / "lab.csv"), *base]) == 2
    assert "--labeled" in (err := capsys.readouterr().err) and "1 id(s) have no vector in --features" in err
    assert main(["--features", str(tmp_path / "other.npz"), "--copy-to", str(tmp_path / "c"), *base]) == 2
    assert "--copy-to do(es) not apply with --features" in capsys.readouterr().err
    assert main(["--images-dir", str(folder), "--features", str(tmp_path / "emb.npy"), "--embedder", "pixels",
                 *base]) == 2
    assert main(["--images-dir", str(folder), "--feature-ids", str(tmp_path / "lab.csv"), *base]) == 2
    assert "only with --features" in capsys.readouterr().err
    assert not out.exists()


def test_a_file_changed_during_the_selection_is_refused(tmp_path):
    ids, x = _ids(10), _vectors(10)
    np.savez(tmp_path / "emb.npz", ids=np.array(ids), features=x)
    ff = read_features(tmp_path / "emb.npz")
    ff.check_unchanged()
    st = os.stat(tmp_path / "emb.npz")
    os.utime(tmp_path / "emb.npz", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(UserError, match="changed while it was being read"):
        ff.check_unchanged()


# -- large pools: float16 memory maps read as stored, and the approximate mode ----------------
def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(40, d)) * 4
    return (c[rng.integers(40, size=n)] + rng.normal(size=(n, d))).astype(np.float16)


@pytest.mark.parametrize("prune, labeled", [(None, False), (None, True), (False, True)])
def test_kcenter_on_a_float16_memory_map_equals_its_float32_copy(tmp_path, prune, labeled):
    from al_bench.kernels.kcenter import kcenter_greedy

    x = _clustered(12_000, 16)
    np.save(tmp_path / "x.npy", x)
    m = np.load(tmp_path / "x.npy", mmap_mode="r")
    lab = np.arange(0, len(x), 101) if labeled else None
    a = kcenter_greedy(m, lab, 60, np.random.default_rng(1), prune=prune)
    b = kcenter_greedy(x.astype(np.float32), lab, 60, np.random.default_rng(1), prune=prune)
    assert np.array_equal(a, b)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_select_reads_a_float16_memory_map_without_a_float32_copy(tmp_path):
    import tracemalloc

    x = _clustered(300_000, 64)
    np.save(tmp_path / "x.npy", x)
    del x
    m = np.load(tmp_path / "x.npy", mmap_mode="r")
    ids = [str(i) for i in range(len(m))]
    copy32 = m.shape[0] * m.shape[1] * 4
    al_bench.select(ids[:50], np.asarray(m[:50]), 2, strategy="kcenter")  # the imports, outside the measure
    tracemalloc.start()
    try:
        sel = al_bench.select(ids, m, 20, strategy="kcenter", labeled=np.arange(len(m)) < 5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sel) == 20 and peak < copy32 / 2, f"peak {peak / 1e6:.1f} MB against a float32 copy of {copy32 / 1e6:.1f} MB"
    with_copy = al_bench.select(ids, np.asarray(m, np.float32), 20, strategy="kcenter", labeled=np.arange(len(m)) < 5)
    assert sel.ids == with_copy.ids


def test_the_approximate_mode_picks_from_a_recorded_uniform_sample(tmp_path):
    x = _clustered(5_000, 8).astype(np.float32)
    ids = [f"i{k}" for k in range(len(x))]
    lab = ids[:30]
    a = al_bench.select(ids, x, 25, labeled=lab, sample=1_000, rng=3)
    b = al_bench.select(ids, x, 25, labeled=lab, sample=1_000, rng=3)
    c = al_bench.select(ids, x, 25, labeled=lab, sample=1_000, rng=4)
    assert a.ids == b.ids and a.ids != c.ids and not set(a.ids) & set(lab)
    assert a.params["sample"] == 1_000 and a.params["sampled_from"] == 4_970
    # the sample is the request's own stream, drawn before the strategy's: the picks are the
    # exact greedy's on those rows, the labeled ones kept as centers
    from al_bench.rng import stream

    cand = np.arange(30, 5_000)
    rows = np.sort(stream(3, "pick", "sample").choice(cand, size=1_000, replace=False))
    keep = np.concatenate([np.arange(30), rows])
    sub = al_bench.select([ids[i] for i in keep], x[keep], 25, labeled=lab, rng=3)
    assert a.ids == sub.ids
    full = al_bench.select(ids, x, 25, labeled=lab, sample=10_000, rng=3)  # no smaller than the candidates: exact
    assert "sample" not in full.params and full.ids == al_bench.select(ids, x, 25, labeled=lab, rng=3).ids
    with pytest.raises(UserError, match="at least the 25 items"):
        al_bench.select(ids, x, 25, sample=10)
