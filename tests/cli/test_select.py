"""al-bench-select: picks on a real folder, hand-off files parsed back, errors in the command's words."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from picking.image_folder import DARK, N_GOOD, family, make_folder
from picking.image_folder import readable_ids as _ids
from PIL import Image

import al_bench
from al_bench.cli.select import flag_for, main
from al_bench.errors import UserError
from al_bench.picking import score_meaning
from al_bench.picking.sinks import CAPTION, TILE
from al_bench.strategies import STRATEGIES


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("imgs"))


def _run(folder, tmp_path, *extra, cache=None):
    out = tmp_path / "sel"
    argv = ["--images-dir", str(folder), "--out", str(out), "--cache-dir", str(cache or tmp_path / "cache"),
            "--embedder", "pixels", "--embedder-opt", "image_size=16", "--quiet", *extra]
    return main(argv), out


def _labeled_csv(path, ids, labels=True):
    df = pd.DataFrame({"id": ids, **({"label": [family(r) for r in ids]} if labels else {})})
    df.to_csv(path, index=False)
    return path


def test_flag_for_words_config_keys_as_this_commands_flags():
    assert flag_for("strategy.params.k") == "--param k"
    assert flag_for("embedder.weights") == "--embedder-opt weights"
    assert flag_for("embedder") == "--embedder" and flag_for("strategy") == "--strategy"
    assert flag_for("probs") == "--predictions" and flag_for("--labeled x.csv") == "--labeled x.csv"
    err = UserError("give {weights}=PATH, or use {embedder}=pixels", key="embedder.model",
                    refs={"weights": "embedder.weights", "embedder": "embedder"})
    assert err.worded(flag_for) == "--embedder-opt model: give --embedder-opt weights=PATH, or use --embedder=pixels"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_command_kcenter_writes_every_sink(folder, tmp_path):
    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:3], labels=False)
    copy = tmp_path / "to_label"
    rc, out = _run(folder, tmp_path, "-n", "7", "--strategy", "kcenter", "--labeled", str(lab),
                   "--copy-to", str(copy), "--min-brightness", "20")
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert sel.columns.tolist() == ["rank", "id", "score", "strategy"]
    assert sel["rank"].tolist() == list(range(1, 8)) and (sel["strategy"] == "kcenter").all()
    assert not set(sel["id"]) & set(ids[:3]) and set(sel["id"]) <= set(ids)
    assert sel["score"].is_monotonic_decreasing and (sel["score"] > 0).all()  # distances shrink along k-center
    dark = next(r for r in ids if DARK in r)
    assert dark not in set(sel["id"])
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["ids"] == sel["id"].tolist() and hand["strategy"] == "kcenter"
    assert hand["score"] == STRATEGIES.entry("kcenter").score
    assert hand["params"] == {"random_fraction": 0.0, "seed": 0, "rng": "al_bench.rng.stream(0, 'pick')"}
    src = hand["source"]
    assert (src["files_found"], src["readable"], src["unreadable"], src["labeled"]) == (N_GOOD + 2, N_GOOD, 2, 3)
    assert src["dropped_too_dark"] == 1 and src["candidates"] == N_GOOD - 3 - 1 and src["embedder"] == "pixels"
    assert src["labeled_file"] == str(lab) and src["predictions"] is None
    bad = pd.read_csv(out / "unreadable.csv")
    assert sorted(bad["id"]) == ["broken.jpg", "empty.png"]
    with Image.open(out / "mosaic.png") as im:  # 7 picks → 3 columns × 3 rows of tiles with captions
        assert im.format == "PNG"
        assert im.size == (3 * TILE, 3 * (TILE + CAPTION))
    tasks = json.loads((out / "label_studio.json").read_text())
    assert [t["data"]["al_bench_id"] for t in tasks] == sel["id"].tolist()
    assert tasks[0]["data"]["image"].startswith("/data/local-files/?d=")
    for rel in sel["id"]:
        assert (copy / rel).read_bytes() == (folder / rel).read_bytes()
    assert not list(out.glob(".partial-*"))


@pytest.mark.slow
def test_command_picks_what_the_library_picks(folder, tmp_path):
    """The command is the library on the folder's ids and features: same picks, same scores."""
    from al_bench.data.images import ImageFiles
    from al_bench.embedders import embed

    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:10])
    rc, out = _run(folder, tmp_path, "-n", "6", "--strategy", "hybrid", "--labeled", str(lab), "--seed", "4")
    assert rc == 0
    good = sorted(ids)
    x = embed(ImageFiles(folder, good), np.arange(len(good)), "pixels", "fp", None, 0, image_size=16).features
    ref = al_bench.select(good, x, 6, "hybrid", labeled=ids[:10], labels=[family(r) for r in ids[:10]], rng=4)
    sel = pd.read_csv(out / "selection.csv")
    assert sel["id"].tolist() == list(ref.ids)
    np.testing.assert_allclose(sel["score"], ref.scores, rtol=1e-12)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_command_second_call_reuses_the_cache(folder, tmp_path, capsys):
    cache = tmp_path / "cache"
    _run(folder, tmp_path, "-n", "3", cache=cache)
    capsys.readouterr()
    rc, out = _run(folder, tmp_path, "-n", "3", "--strategy", "kcenter", "--seed", "1", cache=cache)
    err = capsys.readouterr().err
    assert rc == 0 and "from cache" in err and f"({N_GOOD + 2} from the scan cache)" in err
    rc, out = _run(folder, tmp_path, "-n", "3", "--strategy", "random", cache=tmp_path / "fresh")
    assert rc == 0 and "no embedding needed" in capsys.readouterr().err  # random reads only ids
    assert not list((tmp_path / "fresh").rglob("*.npy"))  # and nothing was embedded


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_command_runs_every_strategy_with_a_head_from_labels(folder, tmp_path, name):
    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:12])  # colour family = a real signal for the head
    rc, out = _run(folder, tmp_path, "-n", "5", "--strategy", name, "--labeled", str(lab),
                   *(["--param", "k=4"] if name == "bald" else []))
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert len(sel) == 5 and sel["id"].is_unique and not set(sel["id"]) & set(ids[:12])
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["score"] == score_meaning(name)
    if name != "random":
        assert sel["score"].notna().all() and hand["score"] == STRATEGIES.entry(name).score
    else:
        assert sel["score"].isna().all()
    # a strategy that chooses (tcm) trains the head only when its candidate reads it
    reads = bool(STRATEGIES.entry(name).needs & {"probs", "mc", "grad"}) and \
        hand["params"].get("candidate") != "typiclust"
    assert ("model" in hand["params"]) == reads
    # the head is trained on the embedding, so only a strategy that reads neither skips it
    assert hand["source"]["embedder"] == (None if name == "random" else "pixels")


def test_command_predictions_csv_and_validation(folder, tmp_path, capsys):
    ids = _ids(folder)
    p = np.tile([0.9, 0.1], (len(ids), 1))
    p[5] = [0.5, 0.5]
    p[9] = [0.6, 0.4]
    f = tmp_path / "preds.csv"
    pd.DataFrame({"id": ids, "cat": p[:, 0], "dog": p[:, 1]}).to_csv(f, index=False)
    rc, out = _run(folder, tmp_path, "-n", "2", "--strategy", "least_confidence", "--predictions", str(f))
    assert rc == 0
    sel = pd.read_csv(out / "selection.csv")
    assert sel["id"].tolist() == [ids[5], ids[9]] and sel["score"].tolist() == [0.5, 0.4]
    assert "no embedding needed: least_confidence reads only the predictions" in capsys.readouterr().err
    p[11] = [0.7, 0.7]
    pd.DataFrame({"id": ids, "cat": p[:, 0], "dog": p[:, 1]}).to_csv(f, index=False)
    rc, _ = _run(folder, tmp_path, "-n", "2", "--strategy", "entropy", "--predictions", str(f))
    err = capsys.readouterr().err
    assert rc == 2 and ids[11] in err and "error: --predictions: 1 row(s) are not probabilities" in err
    pd.DataFrame({"id": ids[1:], "cat": p[1:, 0], "dog": p[1:, 1]}).to_csv(f, index=False)
    rc, _ = _run(folder, tmp_path, "-n", "2", "--strategy", "entropy", "--predictions", str(f))
    err = capsys.readouterr().err
    assert rc == 2 and "no prediction for 1 image" in err and ids[0] in err


def test_command_npy_predictions_follow_list_ids_order(folder, tmp_path, capsys):
    assert main(["--images-dir", str(folder), "--list-ids"]) == 0
    order = capsys.readouterr().out.split()
    assert "broken.jpg" in order and order == sorted(order) and len(order) == N_GOOD + 2
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
    lab = _labeled_csv(tmp_path / "seed.csv", _ids(folder)[:2], labels=False)
    rc, out = _run(folder, tmp_path, "-n", "30", "--min-distance", "1e9", "--labeled", str(lab))
    assert rc == 0 and len(pd.read_csv(out / "selection.csv")) == 0 and not (out / "mosaic.png").exists()
    assert yaml.safe_load((out / "selection.yaml").read_text())["stopped_by"] == "min_distance"
    assert "(stopped by --min-distance)" in capsys.readouterr().err
    bad_out = tmp_path / "never"
    rc = main(["--images-dir", str(folder), "--out", str(bad_out), "--cache-dir", str(tmp_path / "c"),
               "-n", "3", "--strategy", "entropy", "--embedder", "pixels", "--quiet"])
    assert rc == 2 and "needs model outputs" in capsys.readouterr().err
    assert not bad_out.exists() or not any(bad_out.iterdir())
    lab = tmp_path / "l.csv"
    pd.DataFrame({"id": ["nope.png"]}).to_csv(lab, index=False)
    rc = main(["--images-dir", str(folder), "--out", str(bad_out), "-n", "3", "--labeled", str(lab),
               "--cache-dir", str(tmp_path / "c"), "--embedder", "pixels", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.png" in err and f"--labeled {lab}: 1 id(s) are not image files" in err
    assert not bad_out.exists() or not any(bad_out.iterdir())


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
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["score"] == "object_frequency score of the detection predictions (higher = more informative)"
    assert hand["source"]["embedder"] is None  # a ranking of given scores embeds nothing
    recs[2]["objectness"] = [1.5]
    recs[2]["boxes"], recs[2]["probs"] = [box], [car]
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    capsys.readouterr()
    rc, _ = _run(folder, tmp_path, "-n", "2", "--task", "detection", "--predictions", str(f), "--scorer", "box_entropy")
    err = capsys.readouterr().err
    assert rc == 2 and ids[2] in err and "objectness" in err
    assert f"--predictions {f} (detection, --scorer box_entropy): " in err


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


def test_command_rejects_bad_values_before_any_work(folder, tmp_path, capsys):
    cases = [
        (["--strategy", "bald", "--param", "k=abc", "--predictions", "p.csv"], "--param k=abc"),
        (["--strategy", "entropy"], "needs model outputs"),
        (["--param", "foo=1"], "--param foo: not a parameter"),  # the shared message, in this command's words
        (["--strategy", "margin", "--min-distance", "2"], "k-center stop"),
        (["--random-fraction", "1.5"], "--random-fraction"),
        (["--embedder", "nope"], "--embedder nope: unknown"),
        (["--embedder", "pixels", "--embedder-opt", "max_dim=x"], "--embedder-opt max_dim=x"),
        (["--embedder", "pixels", "--embedder-opt", "nope=1"], "--embedder-opt nope: not an option"),
        (["--task", "detection", "--strategy", "kcenter", "--predictions", "d.jsonl", "--scorer", "box_entropy"],
         "--strategy"),
        (["--param", "k"], "--param 'k': write KEY=VALUE"),
        (["--link"], "--link needs --copy-to DIR"),
        (["--seed", "-1"], "--seed: got -1; give a whole number >= 0"),
        (["--scorer", "box_entropy"], "--scorer and --scorer-param are for --task detection or segmentation"),
        (["--class-balance", "predicted"],
         "--class-balance: needs the labeled items' labels: give a --labeled CSV with a 'label' column"),
        (["--class-balance", "fallback", "--predictions", "p.csv"], "--class-balance: needs the labeled items' labels"),
        (["--task", "detection", "--class-balance", "fallback", "--predictions", "d.jsonl", "--scorer", "box_entropy"],
         "--class-balance do(es) not apply"),
        (["--task", "segmentation", "--scorer", "entropy"], "--task segmentation needs --predictions FILE"),
    ]
    for extra, words in cases:
        out = tmp_path / "never"
        rc = main(["--images-dir", str(folder), "-n", "3", "--out", str(out), "--quiet",
                   "--cache-dir", str(tmp_path / "c"), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and words in err and "checking images" not in err, (extra, err)
        assert err.startswith("al-bench-select: error: ") and err.count("\n") == 1  # one line
        assert not (tmp_path / "c").exists()  # nothing scanned, nothing cached
    rc = main(["--images-dir", str(folder), "--quiet", "--cache-dir", str(tmp_path / "c")])
    assert rc == 2 and "-n: give how many images to pick" in capsys.readouterr().err


def test_command_leaves_its_own_output_folder_out_of_the_pool(folder, tmp_path, capsys):
    import shutil

    root = tmp_path / "imgs"
    shutil.copytree(folder, root)
    for _ in range(2):  # the second run must not see the first run's mosaic.png as an image
        assert main(["--images-dir", str(root), "-n", "5", "--out", str(root / "selection"),
                     "--cache-dir", str(tmp_path / "c"), "--embedder", "pixels", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "left out 1 output folder(s) (selection/)" in err
    assert not pd.read_csv(root / "selection" / "selection.csv")["id"].str.startswith("selection/").any()


def _pick_all(root, out, tmp_path, n, *extra):
    """``n`` picks by random (all candidates: the pool itself), read back from selection.csv."""
    rc = main(["--images-dir", str(root), "-n", str(n), "--strategy", "random", "--out", str(out), "--quiet",
               "--cache-dir", str(tmp_path / "c"), *extra])
    if rc != 0:
        return rc, None
    return rc, pd.read_csv(out / "selection.csv", keep_default_na=False)


@pytest.mark.slow
def test_command_never_scans_what_it_wrote(folder, tmp_path, capsys):
    """--out and --copy-to inside --images-dir, run again and again, also after a rename: no pick ever
    comes from a folder the command wrote (each holds the marker file)."""
    import shutil

    OUTPUT_MARKER = ".al_bench_output"  # al_bench.data.images.OUTPUT_MARKER, the name users see
    root = shutil.copytree(folder, tmp_path / "imgs")
    pool = set(_ids(root))
    n = len(pool) - 1  # every candidate but one: a pool grown by any output would still leave picks to spare
    for k in range(3):
        out = root / "cam_a" / f"batch{k}"
        argv = ["--images-dir", str(root), "-n", str(n), "--strategy", "random", "--out", str(out), "--quiet",
                "--cache-dir", str(tmp_path / "c"), "--copy-to", str(root / f"to_label{k}"), "--seed", str(k)]
        assert main(argv) == 0, capsys.readouterr().err
        picked = pd.read_csv(out / "selection.csv", keep_default_na=False)["id"].tolist()
        assert set(picked) <= pool and not any("mosaic" in r or "batch" in r or "to_label" in r for r in picked)
        shutil.move(out, root / f"renamed{k}")  # a previous run's --out under another name
    err = capsys.readouterr().err
    rc, sel = _pick_all(root, tmp_path / "out", tmp_path, len(pool))
    assert rc == 0 and set(sel["id"]) == pool  # exactly the images, nothing the command wrote
    assert "left out 4 output folder(s) (renamed0/, renamed1/, to_label0/, ...)" in err
    assert all((root / f"{name}{k}" / OUTPUT_MARKER).is_file() for name in ("renamed", "to_label") for k in range(3))
    for flag in ("--out", "--copy-to"):
        rc = main(["--images-dir", str(root), "-n", "3", flag, str(root), "--quiet", "--cache-dir", str(tmp_path / "c"),
                   *(["--out", str(tmp_path / "o")] if flag == "--copy-to" else [])])
        err = capsys.readouterr().err
        assert rc == 2 and f"error: {flag} {root}: is --images-dir itself" in err


@pytest.mark.slow
def test_command_leaves_links_out_of_the_folder_unless_asked(folder, tmp_path, capsys):
    import shutil

    root = shutil.copytree(folder, tmp_path / "imgs")
    outside = tmp_path / "outside"
    make_folder(outside)
    os.symlink(outside / "cam_b" / "img_000.png", root / "linked_file.png")
    os.symlink(outside / "cam_a", root / "linked_dir")
    os.symlink(root / "cam_b", root / "inside_dir")  # inside the folder: followed
    n_in = sum(r.startswith("cam_b/") for r in _ids(root))
    n_out = sum(r.startswith("cam_a/") for r in _ids(outside))
    rc, sel = _pick_all(root, tmp_path / "out", tmp_path, N_GOOD + n_in)
    assert rc == 0
    ids = set(sel["id"])
    assert not any(r.startswith(("linked_file", "linked_dir")) for r in ids)
    assert {r for r in ids if r.startswith("inside_dir/")} == {"inside_dir/" + r[6:] for r in _ids(root)
                                                               if r.startswith("cam_b/")}
    bad = pd.read_csv(tmp_path / "out" / "unreadable.csv", keep_default_na=False)
    listed = dict(zip(bad["id"], bad["reason"]))
    assert listed["linked_file.png"] == f"symlink to {outside / 'cam_b' / 'img_000.png'} outside the scanned folder: " \
                                        "not followed"
    assert listed["linked_dir/"].startswith(f"symlink to the folder {outside / 'cam_a'}")
    err = capsys.readouterr().err
    assert "left out 2 symlink(s) leading outside the folder (--follow-links follows them); the files are listed " \
           "in unreadable.csv" in err
    rc, sel = _pick_all(root, tmp_path / "out", tmp_path, N_GOOD + n_in + 1 + n_out, "--follow-links")
    assert rc == 0 and "linked_file.png" in set(sel["id"])
    assert {r for r in sel["id"] if r.startswith("linked_dir/")} == {"linked_dir/" + r[6:] for r in _ids(outside)
                                                                     if r.startswith("cam_a/")}
    assert main(["--images-dir", str(root), "--list-ids"]) == 0
    assert "linked_file.png" not in capsys.readouterr().out.split("\n")
    assert main(["--images-dir", str(root), "--list-ids", "--follow-links"]) == 0
    assert "linked_file.png" in capsys.readouterr().out.split("\n")


def test_command_ids_with_line_breaks_quotes_and_commas_round_trip(folder, tmp_path):
    """selection.csv rows are selection.yaml's ids, whatever characters the file names hold."""
    import shutil

    root = tmp_path / "imgs"
    root.mkdir()
    srcs = sorted(folder.rglob("img_0*.png"))
    names = ["cr\rname.png", "nl\nname.png", 'quo"te,comma.png', "crlf\r\n.png", "plain.png", "é ü.png"]
    assert len(srcs) >= len(names)
    for src, name in zip(srcs, names):
        shutil.copy(src, root / name)
    (root / "bad\r.jpg").write_bytes(b"not a jpeg")
    copy = tmp_path / "copy"
    rc = main(["--images-dir", str(root), "-n", str(len(names)), "--strategy", "kcenter", "--out", str(tmp_path / "o"),
               "--cache-dir", str(tmp_path / "c"), "--embedder", "pixels", "--embedder-opt", "image_size=8", "--quiet",
               "--copy-to", str(copy)])
    assert rc == 0
    out = tmp_path / "o"
    sel = pd.read_csv(out / "selection.csv", keep_default_na=False)
    hand = yaml.safe_load((out / "selection.yaml").read_text(encoding="utf-8"))
    assert sel["id"].tolist() == hand["ids"] and sorted(hand["ids"]) == sorted(names)
    assert sel["rank"].tolist() == list(range(1, len(names) + 1))
    tasks = json.loads((out / "label_studio.json").read_text())
    assert [t["data"]["al_bench_id"] for t in tasks] == hand["ids"]
    assert pd.read_csv(out / "unreadable.csv", keep_default_na=False)["id"].tolist() == ["bad\r.jpg"]
    assert all((copy / name).read_bytes() == src.read_bytes() for src, name in zip(srcs, names))


def test_command_and_folder_dataset_list_names_that_are_not_utf8(folder, tmp_path, capsys):
    import shutil

    from al_bench.data import load_dataset

    root = shutil.copytree(folder, tmp_path / "imgs")
    shutil.copy(root / "cam_b" / "img_000.png", root / "cam_a" / os.fsdecode(b"bad\xff.png"))
    rc, sel = _pick_all(root, tmp_path / "out", tmp_path, N_GOOD)
    assert rc == 0, capsys.readouterr().err
    assert set(sel["id"]) == set(_ids(folder))
    bad = pd.read_csv(tmp_path / "out" / "unreadable.csv", keep_default_na=False)
    assert dict(zip(bad["id"], bad["reason"]))["cam_a/bad\\xff.png"] == "file name is not valid UTF-8"
    for f in (tmp_path / "out").iterdir():  # every output file is valid UTF-8 (or a PNG)
        if f.suffix != ".png":
            f.read_bytes().decode("utf-8")
    assert "1 name(s) not valid UTF-8" in capsys.readouterr().err
    assert main(["--images-dir", str(root), "--list-ids"]) == 0
    assert capsys.readouterr().out.split() == sorted(_ids(folder) + ["broken.jpg", "empty.png"])
    ds = load_dataset("folder", root=str(root))  # cam_a, cam_b as classes
    assert dict(ds.skipped)["cam_a/bad\\xff.png"] == "file name is not valid UTF-8"
    assert all("bad" not in r for r in ds.ids.tolist()) and len(ds.images.fingerprint()) == 64


@pytest.mark.slow
def test_command_labeled_csv_order_does_not_matter(folder, tmp_path):
    ids = _ids(folder)[:12]
    picks = []
    for name, order in (("sorted", slice(None)), ("reversed", slice(None, None, -1))):
        lab = _labeled_csv(tmp_path / f"{name}.csv", ids[order])
        rc, out = _run(folder, tmp_path / name, "-n", "8", "--strategy", "entropy", "--labeled", str(lab))
        assert rc == 0
        picks.append(pd.read_csv(out / "selection.csv")[["id", "score"]])
    pd.testing.assert_frame_equal(picks[0], picks[1])


# -- as a user runs it (subprocesses) ---------------------------------------------------------
@pytest.mark.slow
def test_console_script_is_installed(folder, tmp_path):
    exe = Path(sys.executable).with_name("al-bench-select")
    assert exe.is_file(), "pip install -e . should install the al-bench-select console script"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--images-dir" in r.stdout and "label_studio.json" in r.stdout
    # bench/golden.py runs the module itself
    m = subprocess.run([sys.executable, "-m", "al_bench.cli.select", "--images-dir", str(folder), "--list-ids"],
                       capture_output=True, text=True, timeout=120)
    assert m.returncode == 0 and m.stdout.split() == sorted(_ids(folder) + ["broken.jpg", "empty.png"])


@pytest.mark.slow
def test_console_script_default_embedder_end_to_end(folder, tmp_path):
    """As a user runs it: the installed command, default `auto` embedder (offline here, so the
    label-free kmeans_patches), a labeled CSV with labels, an uncertainty strategy."""
    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:9])
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


def test_help_is_plain_text_and_names_only_real_flags(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--help"])
    text = capsys.readouterr().out
    assert ex.value.code == 0
    for markup in ("``", ":func:", ":mod:", ":class:"):  # RST markup shows as noise in a terminal
        assert markup not in text, markup
    import re

    from al_bench.cli.select import build_parser

    flags = {s for a in build_parser()._actions for s in a.option_strings}
    named = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", re.sub(r"-\n\s+", "-", text)))  # argparse wraps at -
    assert named <= flags, named - flags  # e.g. no --reduce: reduction is --scorer-param reduce=...
    task = text[text.index("  --task "):]
    task = task[:task.index("\n  --", 1)]
    assert "detection" in task and "segmentation" in task and "--scorer" in task and "--strategy" in task
    assert "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT" in text and "Local Storage" in text


def test_copy_to_an_existing_file_fails_before_any_work(folder, tmp_path, capsys):
    (tmp_path / "dest").write_text("a file")
    for target, words in ((tmp_path / "dest", "exists and is not a folder"),
                          (tmp_path / "dest" / "sub", f"cannot be created: {tmp_path / 'dest'} is a file")):
        for flag in ("--copy-to", "--out"):
            argv = ["--images-dir", str(folder), "-n", "3", "--quiet", "--cache-dir", str(tmp_path / "c"),
                    "--embedder", "pixels", "--out", str(tmp_path / "sel"), flag, str(target)]
            rc = main(argv)
            err = capsys.readouterr().err
            assert rc == 2 and f"{flag} {target}: {words}" in err, err
            assert err.startswith("al-bench-select: error: ") and err.count("\n") == 1
            assert "rerun" not in err and "picked" not in err  # no false hint, no selection ran first
            assert not (tmp_path / "c").exists() and not (tmp_path / "sel").exists()


def test_label_studio_document_root_flag(folder, tmp_path, capsys):
    rc, out = _run(folder, tmp_path, "-n", "3", "--label-studio-document-root", str(folder.parent))
    assert rc == 0
    tasks = json.loads((out / "label_studio.json").read_text())
    assert all(t["data"]["image"].startswith(f"/data/local-files/?d={folder.name}/") for t in tasks)
    rc, out2 = _run(folder, tmp_path / "default", "-n", "3")  # default: the absolute path, as before
    assert rc == 0 and json.loads((out2 / "label_studio.json").read_text())[0]["data"]["image"].startswith(
        "/data/local-files/?d=" + str(folder.resolve()).lstrip("/") + "/")
    capsys.readouterr()
    for extra, words in (
            (["--label-studio-document-root", str(tmp_path / "elsewhere")], "is not under it"),
            (["--label-studio-document-root", "/", "--label-studio-prefix", "http://x/"], "give one"),
            (["--label-studio-document-root", str(folder)],
             f"--label-studio-document-root {folder}: --images-dir {folder} is the document root itself; Label "
             "Studio refuses a Local files storage equal to its document root")):
        rc, _ = _run(folder, tmp_path / "bad", "-n", "3", *extra)
        err = capsys.readouterr().err
        assert rc == 2 and words in err and "checking images" not in err, err
        assert not (tmp_path / "bad").exists()
    # a link to the images, given as --images-dir: errors name it as given, and where it leads
    (tmp_path / "linked").symlink_to(folder)
    rc = main(["--images-dir", str(tmp_path / "linked"), "--out", str(tmp_path / "bad"), "-n", "3", "--quiet",
               "--label-studio-document-root", str(tmp_path / "elsewhere")])
    err = capsys.readouterr().err
    assert rc == 2 and f"--images-dir {tmp_path / 'linked'} (a link to {folder.resolve()}) is not under it" in err, err


def test_progress_writes_no_carriage_returns_into_a_log_file(tmp_path, capfd):
    """Not a terminal (stderr redirected to a log): lines only, no progress bar's \\r."""
    imgs = tmp_path / "many"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(210):  # above the size where the scan shows a bar
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(imgs / f"{i:03d}.png")
    argv = ["--images-dir", str(imgs), "-n", "3", "--out", str(tmp_path / "sel"), "--cache-dir",
            str(tmp_path / "c"), "--embedder", "pixels", "--embedder-opt", "image_size=8"]  # no --quiet
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert "picked 3 of 210" in err and "\r" not in err and "\x1b[" not in err, repr(err[:300])


@pytest.mark.parametrize("args, words", [
    (["--min-distance", "nan"], "--min-distance: got nan; give a distance >= 0"),
    (["--min-distance", "-1"], "--min-distance: got -1.0; give a distance >= 0"),
    (["--min-brightness", "nan"], "--min-brightness nan: give a number in [0, 255]"),
    (["--strategy", "bald", "--param", "k=0", "--predictions", "p.npz"], "--param k: "),
    (["--strategy", "bald", "--param", "k=100000000", "--predictions", "p.npz"], "--param k: "),
])
def test_values_are_checked_before_any_image_is_read(tmp_path, capsys, args, words):
    from al_bench.cli.select import main

    out = tmp_path / "out"
    rc = main(["--images-dir", str(tmp_path / "no-such-folder"), "-n", "3", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "Traceback" not in err, err
    assert not out.exists()


def test_too_large_n_fails_before_the_embedding(tmp_path, capsys):
    from PIL import Image

    from al_bench.cli.select import main

    for i in range(5):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / f"{i}.png")
    rc = main(["--images-dir", str(tmp_path), "-n", "50", "--out", str(tmp_path / "o"), "--embedder", "pixels",
               "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert rc == 2 and "-n: 50 asked, but 5 candidate(s) are left (of 5 ids, 0 labeled)" in err
    assert "embedded" not in err and not (tmp_path / "cache" / "embeddings").exists()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_command_class_balance_is_the_library_s(folder, tmp_path):
    """--class-balance predicted with a labeled CSV: the picks al_bench.select makes with the same
    labels, class_balance and seed; the hand-off records it."""
    from al_bench.data.images import ImageFiles
    from al_bench.embedders import embed

    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:10])
    rc, out = _run(folder, tmp_path, "-n", "6", "--strategy", "margin", "--labeled", str(lab), "--seed", "3",
                   "--class-balance", "predicted")
    assert rc == 0
    good = sorted(ids)
    x = embed(ImageFiles(folder, good), np.arange(len(good)), "pixels", "fp", None, 0, image_size=16).features
    ref = al_bench.select(good, x, 6, "margin", labeled=ids[:10], labels=[family(r) for r in ids[:10]], rng=3,
                          class_balance="predicted")
    plain = al_bench.select(good, x, 6, "margin", labeled=ids[:10], labels=[family(r) for r in ids[:10]], rng=3)
    assert pd.read_csv(out / "selection.csv")["id"].tolist() == list(ref.ids) != list(plain.ids)
    assert yaml.safe_load((out / "selection.yaml").read_text())["params"]["class_balance"] == "predicted"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_epig_reads_the_target_folder_images(tmp_path, capsys):
    """--target-folder: its images are embedded like the pool's, scored as EPIG's held-out targets,
    never picked; without it target=heldout is a one-line error, and it is refused for other strategies."""
    folder = make_folder(tmp_path / "imgs")  # its own: a target folder goes inside it
    ids = _ids(folder)
    lab = _labeled_csv(tmp_path / "labeled.csv", ids[:12])
    served = folder / "served"  # inside the pool's folder: left out of its scan
    served.mkdir(exist_ok=True)
    for i, name in enumerate(ids[12:20]):  # copies of pool images under other names
        Image.open(folder / name).save(served / f"deploy_{i}.png")
    rc, out = _run(folder, tmp_path, "-n", "4", "--strategy", "epig", "--labeled", str(lab),
                   "--param", "target=heldout", "--target-folder", str(served))
    assert rc == 0 and "and 8 of the target folder" in capsys.readouterr().err
    sel = pd.read_csv(out / "selection.csv")
    assert len(sel) == 4 and not sel["id"].str.startswith("deploy_").any()
    rc, _ = _run(folder, tmp_path, "-n", "4", "--strategy", "epig", "--labeled", str(lab), "--param", "target=heldout")
    assert rc != 0 and "heldout needs held-out inputs" in capsys.readouterr().err
    rc, _ = _run(folder, tmp_path, "-n", "4", "--strategy", "bald", "--labeled", str(lab), "--target-folder", str(served))
    assert rc != 0 and "--target-folder is for --strategy epig" in capsys.readouterr().err
