"""Sinks: the hand-off files and copies, written together or not at all."""

import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from al_bench import __version__
from al_bench.errors import UserError
from al_bench.picking import Selection, select_top
from al_bench.picking import sinks as K
from al_bench.picking.folder import scan_folder

OUTPUT_MARKER = ".al_bench_output"  # al_bench.data.images.OUTPUT_MARKER, the name users see


@pytest.fixture(scope="module")
def scan(folder, tmp_path_factory):
    return scan_folder(folder, tmp_path_factory.mktemp("cache"), progress=False)


def _result(scan, n=7, **kw):
    """A result of ``n`` picks ranked by precomputed scores (n = 0: k-center stopped at once)."""
    good = list(scan.good)
    if n:
        scores = np.linspace(1.0, 0.0, len(good))
        scores[1] = np.nan  # a labeled item's score is never read
        sel = select_top(good, scores, n, labeled=[good[1]], name="detection:box_entropy")
    else:
        sel = Selection((), np.empty(0), "kcenter", {"seed": 0}, np.empty(0, np.int64), np.empty(0, bool),
                        "min_distance")
    return K.Result(sel, scan, "pixels", n_requested=max(n, 3), n_candidates=len(good) - 1, n_labeled=1, n_dark=0,
                    n_bright=0, **kw)


def test_sinks_run_in_their_declared_order():
    assert [e.name for e in K.ordered()] == ["selection.csv", "unreadable.csv", "selection.yaml",
                                             "label_studio.json", "mosaic.png", "copy"]
    assert all(e.output in (e.name, None) for e in K.SINKS.entries())


def test_every_file_of_the_hand_off(scan, tmp_path):
    r = _result(scan, label_studio_prefix="http://host/img/")
    out = tmp_path / "out"
    K.write_sinks(r, out)
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "label_studio.json", "mosaic.png",
                                                     "selection.csv", "selection.yaml", "unreadable.csv"]
    sel = pd.read_csv(out / "selection.csv")
    assert sel.columns.tolist() == ["rank", "id", "score", "strategy"]
    assert sel["id"].tolist() == r.ids and sel["rank"].tolist() == list(range(1, 8))
    np.testing.assert_allclose(sel["score"], r.selection.scores)
    assert (out / "selection.csv").read_text().endswith("\n") and "\r" not in (out / "selection.csv").read_text()
    assert sorted(pd.read_csv(out / "unreadable.csv")["id"]) == ["broken.jpg", "empty.png"]
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert list(hand) == ["al_bench_version", "created", "strategy", "params", "score", "source", "n_requested",
                          "n_selected", "stopped_by", "ids"]
    assert hand["al_bench_version"] == __version__ and hand["strategy"] == "detection:box_entropy"
    assert hand["score"] == "box_entropy score of the detection predictions (higher = more informative)"
    assert hand["ids"] == r.ids and hand["n_selected"] == 7 and hand["n_requested"] == 7
    assert hand["source"]["images_dir"] == str(scan.root) and hand["source"]["embedder"] == "pixels"
    assert (hand["source"]["files_found"], hand["source"]["unreadable"], hand["source"]["labeled_file"]) == \
        (len(scan.found), 2, None)
    tasks = json.loads((out / "label_studio.json").read_text())
    assert [t["data"]["al_bench_id"] for t in tasks] == r.ids
    assert tasks[0]["data"]["image"] == "http://host/img/" + r.ids[0]
    assert [t["data"]["al_bench_rank"] for t in tasks] == list(range(1, 8))
    with Image.open(out / "mosaic.png") as im:  # 7 picks → 3 columns × 3 rows of tiles with captions
        assert im.format == "PNG" and im.size == (3 * K.TILE, 3 * (K.TILE + K.CAPTION))
        top_left = np.asarray(im.convert("RGB"))[: K.TILE, : K.TILE]
        assert top_left.std() > 10  # a thumbnail was drawn there, not a blank tile
    assert not list(out.glob(".partial-*"))


def test_label_studio_urls_are_quoted_and_missing_scores_are_null():
    tasks = K.label_studio_tasks(["a b/c#1.png", "d.png"], np.array([0.5, np.nan]), "random", "/data/?d=x/")
    assert tasks[0]["data"]["image"] == "/data/?d=x/a%20b/c%231.png"
    assert tasks[0]["data"]["al_bench_score"] == 0.5 and tasks[1]["data"]["al_bench_score"] is None


def test_default_label_studio_prefix_is_local_files(scan, tmp_path):
    K.write_sinks(_result(scan), tmp_path)
    image = json.loads((tmp_path / "label_studio.json").read_text())[0]["data"]["image"]
    assert image.startswith("/data/local-files/?d=" + str(scan.root).lstrip("/") + "/")


def test_label_studio_document_root_makes_the_path_relative(scan, tmp_path):
    """Label Studio resolves ?d= under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: given that root,
    the path is --images-dir relative to it; the default (/) keeps the absolute path."""
    assert K.local_files_prefix(scan.root) == "/data/local-files/?d=" + str(scan.root).lstrip("/") + "/"
    assert K.local_files_prefix(scan.root, Path("/")) == K.local_files_prefix(scan.root)
    K.write_sinks(_result(scan, label_studio_root=scan.root.parent), tmp_path)
    task = json.loads((tmp_path / "label_studio.json").read_text())[0]["data"]
    assert task["image"] == f"/data/local-files/?d={scan.root.name}/{quote(task['al_bench_id'])}"
    with pytest.raises(UserError, match="is the document root itself; Label Studio refuses"):  # never served
        K.local_files_prefix(scan.root, scan.root)
    with pytest.raises(UserError, match="is not under it") as err:
        K.local_files_prefix(scan.root, tmp_path)
    assert err.value.key == f"--label-studio-document-root {tmp_path}"


def test_an_empty_selection_removes_an_earlier_mosaic(scan, tmp_path):
    K.write_sinks(_result(scan), tmp_path)
    assert (tmp_path / "mosaic.png").exists()
    K.write_sinks(_result(scan, n=0), tmp_path)
    assert not (tmp_path / "mosaic.png").exists() and pd.read_csv(tmp_path / "selection.csv").empty
    assert yaml.safe_load((tmp_path / "selection.yaml").read_text())["stopped_by"] == "min_distance"


def test_copies_and_links_land_under_their_relative_paths(scan, tmp_path):
    r = _result(scan, copy_to=tmp_path / "copy")
    prepared = K.write_sinks(r, tmp_path / "out")
    assert len(prepared["copy"]) == 7
    for rel in r.ids:
        assert (tmp_path / "copy" / rel).read_bytes() == (scan.root / rel).read_bytes()
    assert K.write_sinks(r, tmp_path / "out")["copy"] == []  # identical files are skipped
    link = _result(scan, copy_to=tmp_path / "links", link=True)
    K.write_sinks(link, tmp_path / "out2")
    assert all((tmp_path / "links" / rel).resolve() == (scan.root / rel).resolve() for rel in link.ids)
    assert not list((tmp_path / "copy").rglob(".*.partial"))
    for folder in ("copy", "links", "out", "out2"):  # every folder the command wrote is marked for later scans
        assert (tmp_path / folder / OUTPUT_MARKER).is_file()


def test_unreadable_csv_lists_what_the_scan_left_out_and_quotes_every_id(scan, tmp_path):
    import dataclasses

    left = (("weird\r,\"name\n.png", "symlink to /x outside the scanned folder: not followed"),
            ("bad\\xff.png", "file name is not valid UTF-8"))
    r = _result(dataclasses.replace(scan, bad=scan.bad + (("cr\r.jpg", "empty file"),), left_out=left))
    K.write_sinks(r, tmp_path)
    got = pd.read_csv(tmp_path / "unreadable.csv", keep_default_na=False)
    assert list(got.itertuples(index=False, name=None)) == list(scan.bad) + [("cr\r.jpg", "empty file"), *left]
    assert yaml.safe_load((tmp_path / "selection.yaml").read_text())["source"]["left_out"] == 2
    # ordinary ids: byte for byte as before (rows end in \n, nothing quoted)
    plain = _result(scan)
    K.write_sinks(plain, tmp_path / "plain")
    assert (tmp_path / "plain" / "selection.csv").read_bytes() == \
        plain.selection.frame()[["rank", "id", "score", "strategy"]].to_csv(index=False, lineterminator="\n").encode()


def test_a_file_in_the_way_stops_everything_before_any_write(scan, tmp_path):
    r = _result(scan, copy_to=tmp_path / "copy")
    clash = tmp_path / "copy" / r.ids[3]
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"another file")
    with pytest.raises(UserError, match=r"^--copy-to: 1 different file\(s\) already exist there"):
        K.write_sinks(r, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in (tmp_path / "copy").rglob("*") if p.is_file()) == [clash.name]


def test_a_failing_sink_leaves_the_output_folder_as_it_was(scan, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "selection.csv").write_text("earlier\n")

    def broken(r, folder, prepared):
        raise OSError("disk full")

    entry = K.SINKS.entry("mosaic.png")
    monkeypatch.setitem(K.SINKS._entries, "mosaic.png", type(entry)(entry.name, broken, entry.meta, entry.options,
                                                                   entry.module))
    with pytest.raises(OSError, match="disk full"):
        K.write_sinks(_result(scan), out)
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "selection.csv"]  # marked, nothing else
    assert (out / "selection.csv").read_text() == "earlier\n"


def test_label_studio_tasks_carry_the_prediction_as_fields_and_a_pre_annotation():
    tasks = K.label_studio_tasks(["a.png", "b.png"], np.array([0.9, np.nan]), "margin", "/p/",
                                 predicted=(("cat", 0.61), ("dog", 0.5)))
    assert tasks[0]["data"]["al_bench_prediction"] == "cat" and tasks[0]["data"]["al_bench_confidence"] == 0.61
    pred = tasks[0]["predictions"]
    assert pred == [{"model_version": "al_bench margin", "score": 0.9,
                     "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                 "value": {"choices": ["cat"]}}]}]
    assert tasks[1]["predictions"][0]["score"] is None  # no acquisition score: null, as al_bench_score
    plain = K.label_studio_tasks(["a.png"], np.array([0.9]), "kcenter", "/p/")
    assert "predictions" not in plain[0] and "al_bench_prediction" not in plain[0]["data"]
