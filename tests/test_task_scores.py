import json

import numpy as np
import pytest

from al_bench import task_scores as ts
from al_bench.errors import UserError
from al_bench.task_scores import read_task_scores

CAR, PERSON, DOG = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]


def image(classes, objectness=None, id=None):
    """One image's detections: unit boxes, objectness 1 unless given, one probs row per box."""
    n = len(classes)
    d = {"boxes": [[0.0, 0.0, 1.0, 1.0]] * n, "objectness": objectness or [1.0] * n, "probs": classes}
    if id is not None:
        d["id"] = id
    return d


EMPTY = {"boxes": [], "objectness": [], "probs": []}


# ---------------------------------------------------------------- object detection


def test_object_frequency_hand_values():
    three_cars_one_person = image([CAR, CAR, CAR, PERSON])
    # cars: 1 + 0.5 + 0.25 = 1.75; person: 1 → 2.75
    np.testing.assert_allclose(ts.object_frequency([three_cars_one_person]), [2.75])
    # penalty 1 is a plain count (4), penalty 0 the number of distinct classes (2)
    np.testing.assert_allclose(ts.object_frequency([three_cars_one_person], class_penalty=1.0), [4.0])
    np.testing.assert_allclose(ts.object_frequency([three_cars_one_person], class_penalty=0.0), [2.0])


def test_object_frequency_skips_boxes_below_min_score():
    # box 0: 0.9 × 0.8 = 0.72 ≥ 0.5 counts; box 1: 0.6 × 0.8 = 0.48 < 0.5 does not → 1
    soft_car = [0.8, 0.1, 0.1]
    dets = [image([soft_car, soft_car], objectness=[0.9, 0.6])]
    np.testing.assert_allclose(ts.object_frequency(dets), [1.0])
    # at min_score 0.4 both count: 1 + 0.5 = 1.5
    np.testing.assert_allclose(ts.object_frequency(dets, min_score=0.4), [1.5])


def test_varied_scene_outranks_same_count_of_one_class():
    varied = image([CAR, PERSON, DOG])  # 1 + 1 + 1 = 3
    cars = image([CAR, CAR, CAR])  # 1 + 0.5 + 0.25 = 1.75
    s = ts.object_frequency([cars, varied])
    np.testing.assert_allclose(s, [1.75, 3.0])
    assert s.argmax() == 1


def test_objectness_least_confidence_and_reductions():
    dets = [image([CAR, CAR], objectness=[0.7, 0.5])]
    # u = 1 − max(o, 1 − o): 0.7 → 0.3, 0.5 → 0.5
    np.testing.assert_allclose(ts.objectness_least_confidence(dets), [0.5])
    np.testing.assert_allclose(ts.objectness_least_confidence(dets, reduce="mean"), [0.4])
    np.testing.assert_allclose(ts.objectness_least_confidence(dets, reduce="sum"), [0.8])
    np.testing.assert_allclose(ts.objectness_least_confidence([image([CAR], [0.2])]), [0.2])  # 1 − 0.8


def test_box_uncertainty_hand_values():
    dets = [image([[0.5, 0.5, 0.0], [0.6, 0.3, 0.1]])]
    # entropy: [0.5, 0.5, 0] → ln 2; [0.6, 0.3, 0.1] → −(0.6 ln 0.6 + 0.3 ln 0.3 + 0.1 ln 0.1) ≈ 0.898 > ln 2
    h2 = -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(ts.box_uncertainty(dets), [h2])
    np.testing.assert_allclose(ts.box_uncertainty(dets, reduce="mean"), [(np.log(2) + h2) / 2])
    # margin: 1 − (0.5 − 0.5) = 1 and 1 − (0.6 − 0.3) = 0.7
    np.testing.assert_allclose(ts.box_uncertainty(dets, "margin", "max"), [1.0])
    np.testing.assert_allclose(ts.box_uncertainty(dets, "margin", "sum"), [1.7])
    # least confidence: 1 − 0.5 = 0.5 and 1 − 0.6 = 0.4
    np.testing.assert_allclose(ts.box_uncertainty(dets, "least_confidence", "mean"), [0.45])


def test_images_without_boxes_score_zero_everywhere():
    dets = [EMPTY, image([[0.8, 0.1, 0.1]], [0.7]),  # 0.7 × 0.8 = 0.56 ≥ 0.5: one confident box
            {"boxes": np.zeros((0, 4)), "objectness": np.zeros(0), "probs": np.zeros((0, 3))}]
    for name, fn in ts.DETECTION_SCORERS.items():
        s = fn(dets)
        assert s.dtype == np.float64 and s.shape == (3,), name
        assert s[0] == 0.0 and s[2] == 0.0 and s[1] > 0.0, name
    assert ts.object_frequency([]).shape == (0,)


def test_detection_registry_matches_functions():
    dets = [image([[0.6, 0.3, 0.1]], [0.7])]
    np.testing.assert_allclose(ts.DETECTION_SCORERS["box_margin"](dets, reduce="mean"), [0.7])
    np.testing.assert_allclose(ts.DETECTION_SCORERS["box_least_confidence"](dets), [0.4])
    np.testing.assert_allclose(ts.DETECTION_SCORERS["objectness_least_confidence"](dets), [0.3])
    np.testing.assert_allclose(ts.DETECTION_SCORERS["object_frequency"](dets, min_score=0.4), [1.0])


def test_check_detections_returns_float64_arrays():
    out = ts.check_detections([image([CAR], [1]), EMPTY])
    assert out[0]["boxes"].dtype == np.float64 and out[0]["probs"].shape == (1, 3)
    assert out[1]["boxes"].shape == (0, 4) and out[1]["objectness"].shape == (0,)


@pytest.mark.parametrize("bad, match", [
    ({"boxes": [[0, 0, 1]], "objectness": [1.0], "probs": [CAR]}, r"image 1 \(id 'b'\): boxes must have shape \(B, 4\)"),
    ({"boxes": [[0, 0, 1, 1], [2, 0, 1, 1]], "objectness": [1.0, 1.0], "probs": [CAR, CAR]},
     r"image 1 \(id 'b'\), box 1: .*x2 >= x1"),
    ({"boxes": [[0, 0, 1, 1]] * 2, "objectness": [1.0, 1.2], "probs": [CAR, CAR]},
     r"image 1 \(id 'b'\), box 1: objectness must be in \[0, 1\], got 1.2"),
    ({"boxes": [[0, 0, 1, 1]] * 2, "objectness": [1.0], "probs": [CAR, CAR]}, r"objectness must have shape \(2,\)"),
    ({"boxes": [[0, 0, 1, 1]] * 2, "objectness": [1.0, 1.0], "probs": [CAR, [0.5, 0.4, 0.0]]},
     r"image 1 \(id 'b'\): probs \(one row per box\) rows must sum to 1.*row \[1\], which sums to 0.9"),
    ({"boxes": [[0, 0, 1, 1]] * 2, "objectness": [1.0, 1.0], "probs": [CAR]}, r"probs has 1 rows but there are 2 boxes"),
    ({"boxes": [[0, 0, 1, 1]], "objectness": [1.0], "probs": [[0.5, 0.5]]}, r"2 classes but image 0 \(id 'a'\) has 3"),
    ({"boxes": [[0, 0, 1, 1]], "objectness": [1.0]}, r"image 1 \(id 'b'\) is missing key\(s\) \['probs'\]"),
    ({"boxes": [], "objectness": [], "probs": [CAR]}, r"no boxes but probs has shape \(1, 3\)"),
    ({"boxes": [[0, 0, 1, "x"]], "objectness": [1.0], "probs": [CAR]}, r"boxes is not a numeric array"),
])
def test_check_detections_errors_name_image_and_box(bad, match):
    with pytest.raises(ValueError, match=match):
        ts.check_detections([image([CAR], id="a"), {**bad, "id": "b"}])


def test_check_detections_rejects_a_single_mapping_and_names_images_without_id():
    with pytest.raises(ValueError, match="sequence of per-image mappings"):
        ts.check_detections(image([CAR]))
    with pytest.raises(ValueError, match=r"^image 0, box 0: objectness"):
        ts.object_frequency([image([CAR], [-0.1])])


@pytest.mark.parametrize("call, match", [
    (lambda d: ts.box_uncertainty(d, method="bald"), r"unknown method 'bald'; allowed: 'entropy', 'margin', 'least_confidence'"),
    (lambda d: ts.box_uncertainty(d, reduce="median"), r"unknown reduce 'median'; allowed: 'max', 'mean', 'sum'"),
    (lambda d: ts.objectness_least_confidence(d, reduce="min"), r"unknown reduce 'min'"),
    (lambda d: ts.object_frequency(d, class_penalty=1.5), r"class_penalty must be in \[0, 1\], got 1.5"),
    (lambda d: ts.object_frequency(d, class_penalty=float("nan")), r"class_penalty must be in \[0, 1\]"),
    (lambda d: ts.object_frequency(d, min_score=-0.1), r"min_score must be in \[0, 1\]"),
    (lambda d: ts.object_frequency(d, class_penalty="0.5"), r"class_penalty must be a number"),
])
def test_bad_options_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call([EMPTY])  # options are checked even when no image has boxes


def test_jsonl_round_trip(tmp_path):
    records = [{"id": "img/001.jpg", **image([CAR, PERSON], [0.9, 0.7])},
               {"id": "img/002.jpg", **EMPTY, "extra": "ignored"},
               {"id": "b", **image([[0.6, 0.3, 0.1]], [0.5])}]
    path = tmp_path / "dets.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")  # trailing blank line is fine
    ids, dets = ts.detections_from_json(path)
    assert ids == ["img/001.jpg", "img/002.jpg", "b"]
    np.testing.assert_array_equal(dets[0]["probs"], [CAR, PERSON])
    np.testing.assert_allclose(ts.objectness_least_confidence(dets), [0.3, 0.0, 0.5])
    # the same records as a JSON list, and as parsed records, give the same result
    (tmp_path / "dets.json").write_text(json.dumps(records))
    for source in (str(tmp_path / "dets.json"), records):
        ids2, dets2 = ts.detections_from_json(source)
        assert ids2 == ids
        np.testing.assert_array_equal(dets2[2]["objectness"], [0.5])


def test_json_errors(tmp_path):
    a, b = {"id": "a", **image([CAR])}, {"id": "b", **EMPTY}
    with pytest.raises(ValueError, match=r"duplicate ids: 'a' at records \[0, 2\]"):
        ts.detections_from_json([a, b, a])
    with pytest.raises(ValueError, match=r"record 1 \(id 'b'\) is missing key\(s\) \['objectness'\]"):
        ts.detections_from_json([a, {"id": "b", "boxes": [], "probs": []}])
    with pytest.raises(ValueError, match=r"record 0 is missing key\(s\) \['id'\]"):
        ts.detections_from_json([image([CAR])])
    with pytest.raises(ValueError, match=r"record 0 \(id 7\): id must be a string"):
        ts.detections_from_json([{**a, "id": 7}])
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(a) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: invalid JSON"):
        ts.detections_from_json(path)
    with pytest.raises(ValueError, match=r"image 1 \(id 'c'\), box 0: objectness"):
        ts.detections_from_json([a, {"id": "c", **image([CAR], [2.0])}])


# ---------------------------------------------------------------- segmentation


def test_pixel_uncertainty_hand_values():
    # 2 classes on a 1×3 map: pixels [0.5, 0.5], [1, 0], [0.8, 0.2]
    m = np.array([[[0.5, 1.0, 0.8]], [[0.5, 0.0, 0.2]]])
    h = -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))
    np.testing.assert_allclose(ts.pixel_uncertainty(m), [[np.log(2), 0.0, h]], atol=1e-12)
    # margin 1 − |p1 − p2|: 1, 0, 1 − 0.6 = 0.4; least confidence 1 − max: 0.5, 0, 0.2
    np.testing.assert_allclose(ts.pixel_uncertainty(m, "margin"), [[1.0, 0.0, 0.4]], atol=1e-12)
    np.testing.assert_allclose(ts.pixel_uncertainty(m, "least_confidence"), [[0.5, 0.0, 0.2]], atol=1e-12)
    assert ts.pixel_uncertainty(m).dtype == np.float64


def test_pixel_bald_hand_values_and_mean_of_samples():
    one_hot_a = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # (C=2, H=1, W=2)
    one_hot_b = one_hot_a[::-1]  # the opposite class at every pixel
    # opposite one-hot samples: H(mean) = H([0.5, 0.5]) = ln 2, mean H = 0 → ln 2
    np.testing.assert_allclose(ts.pixel_uncertainty(np.stack([one_hot_a, one_hot_b]), "bald"),
                               [[np.log(2), np.log(2)]], atol=1e-12)
    # identical samples carry no mutual information
    soft = np.array([[[0.3, 0.9]], [[0.7, 0.1]]])
    np.testing.assert_allclose(ts.pixel_uncertainty(np.stack([soft] * 4), "bald"), [[0.0, 0.0]], atol=1e-12)
    # other methods on samples score the mean prediction: mean is [0.5, 0.5] everywhere → ln 2
    np.testing.assert_allclose(ts.pixel_uncertainty(np.stack([one_hot_a, one_hot_b])), [[np.log(2)] * 2])


def test_reduce_map_hand_values():
    u = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert ts.reduce_map(u) == 1.5  # (0 + 1 + 2 + 3) / 4
    assert ts.reduce_map(u, "max") == 3.0
    assert ts.reduce_map(u, "topk", 0.25) == 3.0  # ceil(0.25 × 4) = 1 pixel: 3
    assert ts.reduce_map(u, "topk", 0.5) == 2.5  # 2 pixels: (3 + 2) / 2
    assert ts.reduce_map(u, "topk", 0.3) == 2.5  # ceil(0.3 × 4) = ceil(1.2) = 2 pixels, not 1
    assert ts.reduce_map(u, "topk", 0.01) == 3.0  # at least 1 pixel
    assert ts.reduce_map(u, "topk", 1.0) == 1.5  # all pixels = mean
    # 0.1 × 30 = 3.0000000000000004 in floats; still the top 3 pixels: (29 + 28 + 27) / 3 = 28
    assert ts.reduce_map(np.arange(30.0), "topk", 0.1) == 28.0


def test_segmentation_scores_with_different_sizes_and_registry():
    flat = np.full((2, 2, 3), 0.5)  # (C=2, H=2, W=3): every pixel ln 2
    sure = np.zeros((2, 4, 1))
    sure[0] = 1.0  # (C=2, H=4, W=1): every pixel 0
    s = ts.segmentation_scores([sure, flat])
    np.testing.assert_allclose(s, [0.0, np.log(2)], atol=1e-12)
    assert s.dtype == np.float64 and s.shape == (2,)
    np.testing.assert_allclose(ts.SEGMENTATION_SCORERS["pixel_margin"]([flat], reduce="topk"), [1.0])
    assert set(ts.SEGMENTATION_SCORERS) == {f"pixel_{m}" for m in ts.SEGMENTATION_METHODS}
    assert ts.SEGMENTATION_REDUCTIONS == ("mean", "topk", "max")
    assert ts.segmentation_scores([]).shape == (0,)


@pytest.mark.parametrize("maps, kwargs, match", [
    ([np.full((2, 2, 2), 0.5)], {"method": "bald"}, r"image 0: method 'bald' needs MC samples of shape \(K, C, H, W\)"),
    ([np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5)], {}, r"image 1: prob_map must have shape \(C, H, W\)"),
    ([np.full((2, 0, 3), 0.5)], {}, r"image 0: prob_map has no pixels"),
    ([np.ones((1, 2, 2))], {}, r"image 0: prob_map needs at least 2 classes"),
    ([np.full((2, 2, 2), 0.5), np.full((2, 2, 3), 0.4)], {}, r"image 1: prob_map rows must sum to 1.*pixel \(y=0, x=0\)"),
    ([np.stack([np.full((2, 2, 2), 0.5), np.full((2, 2, 2), [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, np.nan]]])])],
     {"method": "bald"}, r"image 0: prob_map contains NaN.*pixel \(y=1, x=1\) of sample 1"),
    # pixel (0, 0) does not sum to 1 but NaN is checked first: the message names the NaN pixel (1, 0)
    ([np.array([[[0.3, 0.5], [np.nan, 0.5]], [[0.3, 0.5], [0.5, 0.5]]])], {}, r"NaN.*pixel \(y=1, x=0\)$"),
    ([], {"method": "variance"}, r"unknown method 'variance'; allowed: 'entropy', 'margin', 'least_confidence', 'bald'"),
    ([], {"reduce": "median"}, r"unknown reduce 'median'; allowed: 'mean', 'topk', 'max'"),
    ([], {"reduce": "topk", "topk_fraction": 0.0}, r"topk_fraction must be in \(0, 1\], got 0.0"),
    ([], {"topk_fraction": 1.5}, r"topk_fraction must be in \(0, 1\]"),
])
def test_segmentation_errors(maps, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.segmentation_scores(maps, **kwargs)


def test_reduce_map_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="empty"):
        ts.reduce_map(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first at flat index 1\)"):
        ts.reduce_map(np.array([0.0, np.nan]))


def test_npz_round_trip_with_slashes_in_ids(tmp_path):
    flat = np.full((2, 2, 3), 0.5, np.float32)
    mc = np.stack([np.eye(2)[:, :, None], np.eye(2)[::-1, :, None]])  # (K=2, C=2, H=2, W=1)
    path = tmp_path / "maps.npz"
    np.savez(path, **{"city/frame_002.png": flat, "a": mc})
    ids, maps = ts.segmentation_from_npz(path)
    assert ids == ["city/frame_002.png", "a"]  # stored order, "/" survives
    assert maps[0].dtype == np.float32 and maps[1].shape == (2, 2, 2, 1)
    np.testing.assert_allclose(ts.segmentation_scores(maps[1:], method="bald"), [np.log(2)], atol=1e-12)
    np.testing.assert_allclose(ts.segmentation_scores(maps), [np.log(2)] * 2, atol=1e-6)


def test_npz_rejects_wrong_shape(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, good=np.full((2, 1, 1), 0.5), bad=np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"bad.npz, id 'bad': need shape \(C, H, W\) or \(K, C, H, W\), got shape \(4, 4\)"):
        ts.segmentation_from_npz(path)


# ---------------------------------------------------------------- predictions files by task
# (moved from tests/picking/test_inputs.py with read_task_scores, which picking no longer holds)


def test_task_scores_from_detections_and_segmentation(tmp_path):
    car, dog = [0.9, 0.1], [0.1, 0.9]
    recs = [{"id": "a", "boxes": [[0, 0, 1, 1]] * 2, "objectness": [1.0, 1.0], "probs": [car, dog]},
            {"id": "b", "boxes": [], "objectness": [], "probs": []}]
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in recs))
    ids, s = read_task_scores(f, "detection", "object_frequency", {})
    assert ids == ["a", "b"] and s.tolist() == [[2.0], [0.0]]
    with pytest.raises(UserError, match=r"^--scorer 'nope': detection scorers are \["):
        read_task_scores(f, "detection", "nope", {})
    with pytest.raises(UserError) as err:
        read_task_scores(f, "detection", "box_entropy", {"reduce": "median"})
    assert str(err.value).startswith(f"--predictions {f} (detection, --scorer box_entropy): ")
    maps = tmp_path / "s.npz"
    sure = np.zeros((2, 2, 2))
    sure[0] = 1
    half = np.full((2, 2, 2), 0.5)
    np.savez(maps, a=sure, b=half)
    ids, s = read_task_scores(maps, "segmentation", "entropy", {})
    assert ids == ["a", "b"]
    np.testing.assert_allclose(s[:, 0], [0.0, np.log(2)], atol=1e-12)
    with pytest.raises(UserError, match=r"^--scorer 'bad': segmentation scorers are \['entropy'"):
        read_task_scores(maps, "segmentation", "bad", {})


def test_a_text_file_named_npz_for_segmentation_says_so(tmp_path):
    f = tmp_path / "maps.npz"
    f.write_text("not an archive\n")
    with pytest.raises(UserError) as err:
        read_task_scores(f, "segmentation", "entropy", {})
    assert "is not a zip archive" in str(err.value) and "pickle" not in str(err.value)
