"""The command's other inputs: the labeled list, predictions in three formats, alignment (task
predictions files: tests/test_task_scores.py)."""

import numpy as np
import pandas as pd
import pytest

from al_bench.errors import UserError
from al_bench.picking.inputs import align, has_labels, read_labeled, read_predictions


def test_read_labeled_ids_and_labels(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("id,label,extra\n a.png ,cat,1\nb.png, dog ,2\n")
    assert read_labeled(f) == (["a.png", "b.png"], ["cat", "dog"])
    assert has_labels(f) and not has_labels(None)
    f.write_text("id\na.png\n")
    assert read_labeled(f) == (["a.png"], None) and not has_labels(f)


@pytest.mark.parametrize("text, words", [
    ("name\na.png\n", "needs an 'id' column"),
    ("id\na.png\na.png\n", "repeated ids: a.png"),
    ("id,label\na.png,cat\nb.png,\n", "1 row(s) have an empty label (first: b.png)"),
])
def test_read_labeled_errors_name_the_file(tmp_path, text, words):
    f = tmp_path / "l.csv"
    f.write_text(text)
    with pytest.raises(UserError) as err:
        read_labeled(f)
    assert err.value.key == f"--labeled {f}" and words in str(err.value)
    assert str(err.value).startswith(f"--labeled {f}: ")


def test_predictions_in_every_format(tmp_path):
    found = ["a.png", "b.png", "c.png"]
    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    pd.DataFrame({"id": ["c.png", "a.png"], "x": p[[2, 0], 0], "y": p[[2, 0], 1]}).to_csv(tmp_path / "p.csv", index=False)
    ids, got = read_predictions(tmp_path / "p.csv", found)
    assert ids == ["c.png", "a.png"] and got.dtype == np.float64
    np.testing.assert_array_equal(got, p[[2, 0]])
    mc = np.stack([p, p[::-1]])
    np.savez(tmp_path / "p.npz", ids=np.array(found), probs=mc)
    ids, got = read_predictions(tmp_path / "p.npz", found)
    assert ids == found and got.shape == (2, 3, 2)
    np.save(tmp_path / "p.npy", p)
    ids, got = read_predictions(tmp_path / "p.npy", found)
    assert ids == found
    np.testing.assert_array_equal(got, p)


def test_prediction_errors(tmp_path):
    found = ["a.png", "b.png"]
    cases = {
        "none.csv": None,
        "p.txt": "use .csv, .npz or .npy",
        "few.csv": "needs an 'id' column and one probability column per class",
        "text.csv": "columns ['x'] are not numbers",
        "p.npz": "an .npz needs arrays 'ids' and 'probs'",
        "p.npy": "one row per image file found (2, in the sorted order of --list-ids)",
        "one.npz": "C >= 2 classes",
        "broken.npz": "cannot read it",
    }
    (tmp_path / "p.txt").write_text("x")
    (tmp_path / "few.csv").write_text("id,x\na.png,1\n")
    (tmp_path / "text.csv").write_text("id,x,y\na.png,hi,1\n")
    np.savez(tmp_path / "p.npz", probs=np.ones((2, 2)))
    np.save(tmp_path / "p.npy", np.ones((3, 2)) / 2)
    np.savez(tmp_path / "one.npz", ids=np.array(found), probs=np.ones((2, 1)))
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04garbage")
    for name, words in cases.items():
        path = tmp_path / name
        with pytest.raises(UserError) as err:
            read_predictions(path, found)
        if words is None:
            assert str(err.value) == f"--predictions: no such file: {path}"
        else:
            assert err.value.key == f"--predictions {path}" and words in str(err.value), (name, str(err.value))
    (tmp_path / "ok.csv").write_text("id,x,y\na.png,1,0\n")
    assert read_predictions(tmp_path / "ok.csv", found)[1].shape == (1, 2)


def test_align_reorders_to_the_folder_and_fills_the_rest():
    good = ["a", "b", "c", "d"]
    ids = ["d", "x", "b", "a"]  # x is not an image of the folder: ignored
    v = np.array([[4.0, 0.0], [9.0, 9.0], [2.0, 0.0], [1.0, 0.0]])
    out = align(ids, v, good, np.array([0, 1, 3]), "--predictions f")
    np.testing.assert_array_equal(out[[0, 1, 3]], [[1, 0], [2, 0], [4, 0]])
    assert np.isnan(out[2]).all()  # c: not needed, not given
    out3 = align(ids, np.stack([v, v * 2]), good, np.array([0]), "w")
    assert out3.shape == (2, 4, 2) and out3[1, 3, 0] == 8.0
    with pytest.raises(UserError, match=r"^w: no prediction for 1 image\(s\) that may be picked \(first: c\)"):
        align(ids, v, good, np.array([2]), "w")
    with pytest.raises(UserError, match="^w: repeated ids: a"):
        align(["a", "a"], v[:2], good, np.array([], int), "w")


def test_read_labeled_finds_repeats_after_stripping_spaces(tmp_path):
    """' a.png' and 'a.png' are the same image: conflicting labels fail instead of one being dropped."""
    f = tmp_path / "l.csv"
    f.write_text("id,label\na.png,cat\n a.png ,dog\nb.png,cat\n")
    with pytest.raises(UserError, match=r"repeated ids: a\.png") as err:
        read_labeled(f)
    assert err.value.key == f"--labeled {f}"


@pytest.mark.parametrize("suffix, kind", [(".npz", "zip archive"), (".npy", "NumPy array file")])
def test_a_text_file_named_like_a_numpy_file_says_so(tmp_path, suffix, kind):
    f = tmp_path / f"preds{suffix}"
    f.write_text("id,cat,dog\na.png,0.5,0.5\n")
    with pytest.raises(UserError) as err:
        read_predictions(f, ["a.png"])
    msg = str(err.value)
    assert f"is not a {kind}" in msg and "a CSV file? name it .csv" in msg and "pickle" not in msg
    f.write_bytes(b"")
    with pytest.raises(UserError, match="it is empty"):
        read_predictions(f, ["a.png"])


def test_prediction_ids_that_look_like_numbers_stay_as_written(tmp_path):
    """Files named 0007, 1e5 and NA (no extension): ids are text, never 7, 100000.0 or NaN."""
    f = tmp_path / "p.csv"
    f.write_text("id,x,y\n0007,0.9,0.1\n1e5,0.4,0.6\nNA,0.5,0.5\n")
    ids, got = read_predictions(f, ["0007", "1e5", "NA"])
    assert ids == ["0007", "1e5", "NA"]
    np.testing.assert_array_equal(got, [[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]])
