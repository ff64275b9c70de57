"""al_bench.select and al-bench-select: picks on real files, hand-off files parsed back."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

import al_bench
from al_bench import select_cli
from al_bench.errors import UserError
from al_bench.selectors import kcenter_greedy
from al_bench.strategies import REGISTRY

N_GOOD = 40  # readable images in the generated folder (one of them very dark)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A class-free folder: 40 readable images in nested folders (3 colour families), one very
    dark, one corrupt JPEG, one empty PNG, a hidden folder that must be ignored."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    base = np.array([[200, 40, 40], [40, 180, 60], [50, 70, 210]], np.float64)
    for i in range(N_GOOD):
        sub = root / ("cam_a" if i % 2 else "cam_b") / ("day1" if i % 3 else "")
        sub.mkdir(parents=True, exist_ok=True)
        if i == 7:
            arr = np.full((24, 32, 3), 3, np.uint8)  # very dark
        else:
            fam = base[i % 3]
            arr = np.clip(fam * rng.uniform(0.5, 1.1) + rng.normal(0, 25, (24, 32, 3)), 0, 255).astype(np.uint8)
            arr[: 4 + i % 12, :, :] = 255 - arr[: 4 + i % 12]  # a varied band
        ext = [".png", ".jpg", ".PNG", ".webp", ".bmp"][i % 5]
        Image.fromarray(arr).save(sub / f"img_{i:03d}{ext}")
    good_jpg = (root / "cam_b" / "img_000.png").read_bytes()
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + good_jpg[:50])  # corrupt
    (root / "empty.png").write_bytes(b"")
    (root / ".thumbs").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / ".thumbs" / "x.png")
    return root


def _run(folder, tmp_path, *extra, cache=None):
    out = tmp_path / "sel"
    argv = ["--images-dir", str(folder), "--out", str(out), "--cache-dir", str(cache or tmp_path / "cache"),
            "--embedder", "pixels", "--embedder-opt", "image_size=16", "--quiet", *extra]
    return select_cli.main(argv), out


def _ids(folder):
    from al_bench.datasets import scan_images

    # readable ids, the very dark img_007 last (so taking the first few as labeled never takes it)
    ids = [r for r in scan_images(folder) if not r.startswith(("broken", "empty"))]
    return sorted(ids, key=lambda r: "img_007" in r)


# -- the library API -------------------------------------------------------------------------
def test_select_kcenter_equals_the_greedy_and_reports_distances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    ids = [f"im{i}.png" for i in range(200)]
    sel = al_bench.select(ids, x, 15, "kcenter", labeled=ids[:5])
    ref = kcenter_greedy(x, np.arange(5), 15)
    assert list(sel.ids) == [ids[i] for i in ref]
    # score = Euclidean distance to the nearest labeled-or-earlier pick, hence non-increasing
    d = np.sqrt(((x[ref[3]] - x[np.r_[np.arange(5), ref[:3]]]) ** 2).sum(1)).min()
    assert sel.scores[3] == pytest.approx(d, rel=1e-5)
    assert np.all(np.diff(sel.scores) <= 1e-6)
    assert sel.frame().columns.tolist()[:4] == ["rank", "id", "score", "strategy"]
    assert sel.params["seed"] == 0


def test_select_min_distance_stops_kcenter_early():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    ids = [str(i) for i in range(300)]
    full = al_bench.select(ids, x, 100, "kcenter", labeled=ids[:3])
    cut = float(full.scores[40])
    short = al_bench.select(ids, x, 100, "kcenter", labeled=ids[:3], min_distance=cut)
    assert short.stopped == "min_distance"
    assert list(short.ids) == list(full.ids[: len(short)])
    assert (short.scores >= cut).all() and len(short) >= 40 and full.scores[len(short)] < cut
    with pytest.raises(UserError, match="k-center stop"):
        al_bench.select(ids, x, 5, "entropy", min_distance=1.0)


def test_select_uncertainty_uses_given_probs_and_scores_them():
    ids = ["a", "b", "c", "d"]
    x = np.eye(4, dtype=np.float32)
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.6, 0.4]])
    sel = al_bench.select(ids, x, 2, "margin", probs=probs)
    assert list(sel.ids) == ["b", "d"]
    np.testing.assert_allclose(sel.scores, [1.0, 0.8])  # 1 − (p1 − p2)
    sel = al_bench.select(ids, x, 2, "entropy", probs=probs, labeled=["b"])
    assert list(sel.ids) == ["d", "c"]
    np.testing.assert_allclose(sel.scores[0], -(0.6 * np.log(0.6) + 0.4 * np.log(0.4)))


def test_select_bald_with_given_mc_samples():
    ids = ["same", "split", "sure"]
    mc = np.array([[[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]],
                   [[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]])  # (K=2, N=3, C=2)
    sel = al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "bald", probs=mc)
    assert sel.ids == ("split",)
    assert sel.scores[0] == pytest.approx(np.log(2))  # two opposite one-hot samples: ln 2
    assert sel.params["k"] == 2
    with pytest.raises(UserError, match="MC-dropout samples"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "bald", probs=mc.mean(0))


def test_select_trains_a_head_from_labels_when_no_probs(blobs):
    x, y = blobs
    ids = [f"i{i}" for i in range(len(x))]
    lab = list(range(0, 300, 10))
    sel = al_bench.select(ids, x, 20, "entropy", labeled=[ids[i] for i in lab], labels=[int(y[i]) for i in lab])
    assert len(sel) == 20 and not set(sel.ids) & {ids[i] for i in lab}
    assert "head" in sel.params["model"] and np.isfinite(sel.scores).all()
    with pytest.raises(UserError, match="needs model outputs"):
        al_bench.select(ids, x, 5, "entropy", labeled=[ids[i] for i in lab])


def test_select_names_bad_probability_rows():
    ids = ["a", "b", "c"]
    probs = np.array([[0.5, 0.5], [0.9, 0.3], [0.2, 0.8]])
    with pytest.raises(UserError, match=r"1 row\(s\).*b \(sum 1\.2\)"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs)
    probs[1] = np.nan  # a labeled row is never read
    assert al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs, labeled=["b"]).ids == ("a",)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_strategy_through_the_api(name, blobs):
    x, y = blobs
    ids = [f"i{i}" for i in range(len(x))]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(x), 3))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mc = np.stack([p, p[::-1]])  # K = 2 samples serve bald; their mean the others
    sel = al_bench.select(ids, x, 12, name, labeled=ids[:10], probs=mc, rng=3)
    again = al_bench.select(ids, x, 12, name, labeled=ids[:10], probs=mc, rng=3)
    assert len(set(sel.ids)) == 12 and not set(sel.ids) & set(ids[:10])
    assert sel.ids == again.ids


# -- the command -----------------------------------------------------------------------------
def test_command_kcenter_writes_every_sink(folder, tmp_path):
    ids = _ids(folder)
    lab = tmp_path / "labeled.csv"
    pd.DataFrame({"id": ids[:3]}).to_csv(lab, index=False)
    copy = tmp_path / "to_label"
    rc, out = _run(folder, tmp_path, "-n", "7", "--strategy", "kcenter", "--labeled", str(lab),
                   "--copy-to", str(copy), "--min-brightness", "20")
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert sel.columns.tolist() == ["rank", "id", "score", "strategy"]
    assert sel["rank"].tolist() == list(range(1, 8)) and (sel["strategy"] == "kcenter").all()
    assert not set(sel["id"]) & set(ids[:3]) and set(sel["id"]) <= set(ids)
    dark = next(r for r in ids if "img_007" in r)
    assert dark not in set(sel["id"])
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["ids"] == sel["id"].tolist() and hand["strategy"] == "kcenter"
    src = hand["source"]
    assert (src["files_found"], src["readable"], src["unreadable"], src["labeled"]) == (N_GOOD + 2, N_GOOD, 2, 3)
    assert src["dropped_too_dark"] == 1 and src["candidates"] == N_GOOD - 3 - 1 and src["embedder"] == "pixels"
    bad = pd.read_csv(out / "unreadable.csv")
    assert sorted(bad["id"]) == ["broken.jpg", "empty.png"]
    with Image.open(out / "mosaic.png") as im:  # 7 picks → 3 columns × 3 rows of tiles with captions
        assert im.format == "PNG"
        assert im.size == (3 * select_cli.TILE, 3 * (select_cli.TILE + select_cli.CAPTION))
    tasks = json.loads((out / "label_studio.json").read_text())
    assert [t["data"]["al_bench_id"] for t in tasks] == sel["id"].tolist()
    assert tasks[0]["data"]["image"].startswith("/data/local-files/?d=")
    for rel in sel["id"]:
        assert (copy / rel).read_bytes() == (folder / rel).read_bytes()
    assert not list(out.glob(".partial-*"))


def test_command_second_call_reuses_the_cache(folder, tmp_path, capsys):
    cache = tmp_path / "cache"
    _run(folder, tmp_path, "-n", "3", cache=cache)
    capsys.readouterr()
    rc, out = _run(folder, tmp_path, "-n", "3", "--strategy", "kcenter", "--seed", "1", cache=cache)
    err = capsys.readouterr().err
    assert rc == 0 and "from cache" in err and f"({N_GOOD + 2} from the scan cache)" in err
    rc, out = _run(folder, tmp_path, "-n", "3", "--strategy", "random", cache=tmp_path / "fresh")
    assert rc == 0 and "no embedding needed" in capsys.readouterr().err  # random reads only ids


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_command_runs_every_strategy_with_a_head_from_labels(folder, tmp_path, name):
    ids = _ids(folder)
    lab = tmp_path / "labeled.csv"
    # colour family = i % 3 of the file number: a real signal for the head
    pd.DataFrame({"id": ids[:12], "label": [f"c{int(r.split('_')[-1][:3]) % 3}" for r in ids[:12]]}).to_csv(lab, index=False)
    rc, out = _run(folder, tmp_path, "-n", "5", "--strategy", name, "--labeled", str(lab),
                   *(["--param", "k=4"] if name == "bald" else []))
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert len(sel) == 5 and sel["id"].is_unique and not set(sel["id"]) & set(ids[:12])
    if name != "random":
        assert sel["score"].notna().all()


def test_command_predictions_csv_and_validation(folder, tmp_path, capsys):
    ids = _ids(folder)
    p = np.tile([0.9, 0.1], (len(ids), 1))
    p[5] = [0.5, 0.5]
    p[9] = [0.6, 0.4]
    f = tmp_path / "preds.csv"
    pd.DataFrame({"id": ids, "cat": p[:, 0], "dog": p[:, 1]}).to_csv(f, index=False)
    rc, out = _run(folder, tmp_path, "-n", "2", "--strategy", "least_confidence", "--predictions", str(f))
    assert rc == 0
    assert pd.read_csv(out / "selection.csv")["id"].tolist() == [ids[5], ids[9]]
    p[11] = [0.7, 0.7]
    pd.DataFrame({"id": ids, "cat": p[:, 0], "dog": p[:, 1]}).to_csv(f, index=False)
    capsys.readouterr()
    rc, _ = _run(folder, tmp_path, "-n", "2", "--strategy", "entropy", "--predictions", str(f))
    assert rc == 2 and ids[11] in capsys.readouterr().err
    pd.DataFrame({"id": ids[1:], "cat": p[1:, 0], "dog": p[1:, 1]}).to_csv(f, index=False)
    rc, _ = _run(folder, tmp_path, "-n", "2", "--strategy", "entropy", "--predictions", str(f))
    err = capsys.readouterr().err
    assert rc == 2 and "no prediction for 1 image" in err and ids[0] in err


def test_command_npy_predictions_follow_list_ids_order(folder, tmp_path, capsys):
    assert select_cli.main(["--images-dir", str(folder), "--list-ids"]) == 0
    order = capsys.readouterr().out.split()
    assert "broken.jpg" in order and order == sorted(order)
    p = np.tile([0.95, 0.05], (len(order), 1))
    want = [r for r in order if r.endswith("img_010.webp") or "img_010" in r][0]
    p[order.index(want)] = [0.5, 0.5]
    np.save(tmp_path / "p.npy", p)
    rc, out = _run(folder, tmp_path, "-n", "1", "--strategy", "margin", "--predictions", str(tmp_path / "p.npy"))
    assert rc == 0 and pd.read_csv(out / "selection.csv")["id"].tolist() == [want]


def test_command_min_distance_and_errors_leave_nothing_behind(folder, tmp_path, capsys):
    rc, out = _run(folder, tmp_path, "-n", "30", "--min-distance", "1e9")
    # nothing labeled: the first pick has no center to be close to (distance inf), then it stops
    assert rc == 0 and pd.read_csv(out / "selection.csv")["score"].tolist() == [np.inf]
    lab = tmp_path / "seed.csv"
    pd.DataFrame({"id": _ids(folder)[:2]}).to_csv(lab, index=False)
    rc, out = _run(folder, tmp_path, "-n", "30", "--min-distance", "1e9", "--labeled", str(lab))
    assert rc == 0 and len(pd.read_csv(out / "selection.csv")) == 0 and not (out / "mosaic.png").exists()
    assert yaml.safe_load((out / "selection.yaml").read_text())["stopped_by"] == "min_distance"
    capsys.readouterr()
    bad_out = tmp_path / "never"
    rc = select_cli.main(["--images-dir", str(folder), "--out", str(bad_out), "--cache-dir", str(tmp_path / "c"),
                          "-n", "3", "--strategy", "entropy", "--embedder", "pixels", "--quiet"])
    assert rc == 2 and "needs model outputs" in capsys.readouterr().err
    assert not bad_out.exists() or not any(bad_out.iterdir())
    lab = tmp_path / "l.csv"
    pd.DataFrame({"id": ["nope.png"]}).to_csv(lab, index=False)
    rc = select_cli.main(["--images-dir", str(folder), "--out", str(bad_out), "-n", "3", "--labeled", str(lab),
                          "--cache-dir", str(tmp_path / "c"), "--embedder", "pixels", "--quiet"])
    assert rc == 2 and "nope.png" in capsys.readouterr().err


def test_console_script_is_installed(folder, tmp_path):
    exe = Path(sys.executable).with_name("al-bench-select")
    assert exe.is_file(), "pip install -e . should install the al-bench-select console script"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--images-dir" in r.stdout and "label_studio.json" in r.stdout


def test_command_detection_predictions_rank_by_the_scorer(folder, tmp_path, capsys):
    ids = _ids(folder)
    recs = [{"id": r, "boxes": [], "objectness": [], "probs": []} for r in ids]
    car, person, dog = [0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]
    box = [0, 0, 10, 10]
    recs[4] = {"id": ids[4], "boxes": [box] * 3, "objectness": [0.9] * 3, "probs": [car, person, dog]}  # 3 classes: 3
    recs[8] = {"id": ids[8], "boxes": [box] * 3, "objectness": [0.9] * 3, "probs": [car] * 3}  # 1 + .5 + .25
    f = tmp_path / "dets.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    rc, out = _run(folder, tmp_path, "-n", "2", "--task", "detection", "--predictions", str(f),
                   "--scorer", "object_frequency", "--scorer-param", "class_penalty=0.5")
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert sel["id"].tolist() == [ids[4], ids[8]] and sel["score"].tolist() == [3.0, 1.75]
    assert (sel["strategy"] == "detection:object_frequency").all()
    recs[2]["objectness"] = [1.5]
    recs[2]["boxes"], recs[2]["probs"] = [box], [car]
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    capsys.readouterr()
    rc, _ = _run(folder, tmp_path, "-n", "2", "--task", "detection", "--predictions", str(f), "--scorer", "box_entropy")
    err = capsys.readouterr().err
    assert rc == 2 and ids[2] in err and "objectness" in err


def test_command_segmentation_predictions_topk_reduction(folder, tmp_path):
    ids = _ids(folder)
    sure = np.zeros((2, 4, 4))
    sure[0] = 1.0
    maps = {r: sure for r in ids}
    spot = sure.copy()
    spot[:, 0, 0] = 0.5  # one 50/50 pixel of 16: top-k (1 pixel) = ln 2, mean = ln 2 / 16
    maps[ids[6]] = spot
    f = tmp_path / "seg.npz"
    np.savez(f, **maps)
    rc, out = _run(folder, tmp_path, "-n", "1", "--task", "segmentation", "--predictions", str(f),
                   "--scorer", "entropy", "--scorer-param", "reduce=topk", "--scorer-param", "topk_fraction=0.0625")
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert sel["id"].tolist() == [ids[6]] and sel["score"][0] == pytest.approx(np.log(2))


def test_labels_pair_with_ids_in_the_callers_order():
    """A labeled CSV is rarely sorted: labels must follow their own ids, not the sorted order."""
    x = np.array([[-10.0], [10.0], [-9.0], [-9.5], [0.3]], np.float32)
    ids = ["a", "b", "c", "d", "e"]
    # truth: a, c are "lo", b is "hi" (boundary near 0: e is the most uncertain); paired in sorted
    # order instead (a=hi, b=lo, c=lo) the boundary would sit between a and c, next to d
    sel = al_bench.select(ids, x, 1, "entropy", labeled=["b", "a", "c"], labels=["hi", "lo", "lo"])
    same = al_bench.select(ids, x, 1, "entropy", labeled=["a", "b", "c"], labels={"a": "lo", "b": "hi", "c": "lo"})
    assert sel.ids == same.ids == ("e",)
    assert "model" in sel.params  # the head is trained lazily: only strategies that ask train one
    assert "model" not in al_bench.select(ids, x, 1, "kcenter", labeled=["b", "a"], labels=["hi", "lo"]).params


def test_command_rejects_bad_values_before_any_work(folder, tmp_path, capsys):
    cases = [
        (["--strategy", "bald", "--param", "k=abc", "--predictions", "p.csv"], "--param k=abc"),
        (["--strategy", "entropy"], "needs model outputs"),
        (["--param", "foo=1"], "--param foo: not a parameter"),  # the shared message, in this command's words
        (["--strategy", "margin", "--min-distance", "2"], "k-center stop"),
        (["--random-fraction", "1.5"], "--random-fraction"),
        (["--embedder", "nope"], "--embedder nope: unknown"),
        (["--embedder", "pixels", "--embedder-opt", "max_dim=x"], "--embedder-opt max_dim=x"),
        (["--task", "detection", "--strategy", "kcenter", "--predictions", "d.jsonl", "--scorer", "box_entropy"],
         "--strategy"),
    ]
    for extra, words in cases:
        out = tmp_path / "never"
        rc = select_cli.main(["--images-dir", str(folder), "-n", "3", "--out", str(out), "--quiet",
                              "--cache-dir", str(tmp_path / "c"), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and words in err and "checking images" not in err, (extra, err)
        assert not (tmp_path / "c").exists()  # nothing scanned, nothing cached


def test_command_leaves_its_own_output_folder_out_of_the_pool(folder, tmp_path, capsys):
    import shutil

    root = tmp_path / "imgs"
    shutil.copytree(folder, root)
    for _ in range(2):  # the second run must not see the first run's mosaic.png as an image
        assert select_cli.main(["--images-dir", str(root), "-n", "5", "--out", str(root / "selection"),
                                "--cache-dir", str(tmp_path / "c"), "--embedder", "pixels", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "left out 1 image(s) under the output folder(s) selection/" in err
    assert not pd.read_csv(root / "selection" / "selection.csv")["id"].str.startswith("selection/").any()


@pytest.mark.slow
def test_console_script_default_embedder_end_to_end(folder, tmp_path):
    """As a user runs it: the installed command, default `auto` embedder (offline here, so the
    label-free kmeans_patches), a labeled CSV with labels, an uncertainty strategy."""
    ids = _ids(folder)
    lab = tmp_path / "labeled.csv"
    pd.DataFrame({"id": ids[:9], "label": [f"c{int(r.split('_')[-1][:3]) % 3}" for r in ids[:9]]}).to_csv(lab, index=False)
    exe = Path(sys.executable).with_name("al-bench-select")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AL_BENCH_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([str(exe), "--images-dir", str(folder), "-n", "6", "--strategy", "hybrid", "--labeled", str(lab),
                        "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "FALLING BACK to kmeans_patches" in r.stderr and "with kmeans_patches" in r.stderr
    sel = pd.read_csv(tmp_path / "out" / "selection.csv")
    assert len(sel) == 6 and set(sel["id"]) <= set(ids[9:])
    hand = yaml.safe_load((tmp_path / "out" / "selection.yaml").read_text())
    assert hand["source"]["embedder"] == "kmeans_patches" and hand["ids"] == sel["id"].tolist()


def test_command_labeled_csv_order_does_not_matter(folder, tmp_path):
    ids = _ids(folder)[:12]
    labels = [f"c{int(r.split('_')[-1][:3]) % 3}" for r in ids]
    picks = []
    for name, order in (("sorted", slice(None)), ("reversed", slice(None, None, -1))):
        lab = tmp_path / f"{name}.csv"
        pd.DataFrame({"id": ids[order], "label": labels[order]}).to_csv(lab, index=False)
        rc, out = _run(folder, tmp_path / name, "-n", "8", "--strategy", "entropy", "--labeled", str(lab))
        assert rc == 0
        picks.append(pd.read_csv(out / "selection.csv")[["id", "score"]])
    pd.testing.assert_frame_equal(picks[0], picks[1])
