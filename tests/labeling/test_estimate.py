"""The audit estimate: Wilson intervals, per-class recall and balanced accuracy from the audited
images, and a project that records its audit share and estimates from it."""

import numpy as np
import pytest
from labeling.colour_folder import CLASSES

from al_bench.labeling import LabelingProject
from al_bench.labeling.estimate import Z95, audit_estimate, cross_fit, wilson


def test_wilson_interval_hand_values():
    # 0 of 10: upper bound z² / (n + z²); 10 of 10 mirrors it; 5 of 10 is symmetric around 1/2
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(Z95**2 / (10 + Z95**2))
    assert wilson(10, 10) == pytest.approx((1 - hi, 1.0))
    lo5, hi5 = wilson(5, 10)
    assert lo5 + hi5 == pytest.approx(1.0) and lo5 == pytest.approx(0.2366, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_per_class_recall_and_balanced_accuracy():
    correct = np.array([1, 1, 0, 1, 0, 0, 1, 1], bool)
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    est = audit_estimate(correct, y, ["a", "b", "c"], n_labeled=40)
    assert (est.n_audit, est.accuracy) == (8, 5 / 8)
    assert [est.per_class[c]["recall"] for c in "abc"] == [0.75, 0.0, 1.0]
    assert [est.per_class[c]["n"] for c in "abc"] == [4, 2, 2]
    assert est.balanced_accuracy == pytest.approx((0.75 + 0 + 1) / 3)
    assert est.balanced_ci_low < est.balanced_accuracy < est.balanced_ci_high
    assert est.ci_low < est.accuracy < est.ci_high
    # a class with no audited image: its recall, and so the balanced accuracy, are unknown
    part = audit_estimate(correct[:6], y[:6], ["a", "b", "c"], n_labeled=40)
    assert part.per_class["c"]["recall"] is None and part.balanced_accuracy is None
    assert "no estimate" in audit_estimate(np.zeros(0, bool), np.zeros(0, int), ["a"], 3).source


def _close_colours(root, per_class=20, seed=0):
    """PNGs of 3 classes whose colours are close under heavy noise: a model errs on them."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    truth = {}
    for c, colour in enumerate([(120, 120, 120), (135, 120, 112), (118, 135, 124)]):
        for k in range(per_class):
            f = root / f"{CLASSES[c]}_{k:02d}.png"
            f.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(np.array(colour) + rng.normal(0, 45, (16, 16, 3)), 0, 255).astype(np.uint8)).save(f)
            truth[str(f)] = CLASSES[c]
    return truth


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_project_audits_a_share_of_each_batch_and_estimates_from_it(tmp_path):
    from al_bench.heads.linear import linear_head
    from al_bench.labeling.estimate import difference_estimate
    from al_bench.rng import stream

    truth = _close_colours(tmp_path / "img")
    p = LabelingProject.open(tmp_path / "p")
    p.setup("colours", CLASSES, batch_size=8, embedder="pixels", audit_fraction=0.5)
    p.add_folder(tmp_path / "img")
    for _ in range(2):
        sel = p.next_batch()
        assert sel.params["audit"] == 4 and sel.params["random_fraction"] == 0.5
        p.add_labels({k: truth[k] for k in sel.ids})
        rep = p.fit()
    audited = p.audit_items()
    assert len(audited) == 8 and set(audited) <= set(p.labels)
    est = p.estimate()
    assert est == rep.estimate and est["n_audit"] == 8 and est["n_labeled"] == 16
    # the same number from the project's pieces, recomputed here: its folds, its temperature, its
    # model's confidence on the 44 images not labeled
    f = p._feature_table()
    rows, y, _, classes = p._labeled_rows(f)
    oof, _ = cross_fit(f.x[rows], y, len(classes), 5, stream(0, "cv", len(y)),
                       lambda: linear_head(f.x.shape[1], len(classes), 0))
    is_audit = np.isin(np.asarray(f.keys)[rows], audited)
    right = (oof.argmax(1) == y)[is_audit]
    z = oof[is_audit] / p.model().temperature
    conf = (np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)).max(1)
    rest = [k for k in p.items if k not in p.labels]
    want = difference_estimate(right, conf, p.predict(rest).max(1))
    assert (est["accuracy"], est["ci_low"], est["ci_high"]) == pytest.approx(want)
    assert 0 < right.mean() < 1 and est["accuracy"] != pytest.approx(right.mean())  # not the plain share
    assert p.rounds()[-1]["estimate"]["n_audit"] == 8 and p.model_info()["estimate"] == est


def test_the_difference_estimate_by_hand():
    from al_bench.labeling.estimate import difference_estimate

    right, conf = np.array([1, 1, 0, 1, 1, 1]), np.array([0.9, 0.8, 0.2, 0.9, 0.7, 0.8])
    pool = np.array([0.6, 0.7, 0.5])
    est, lo, hi = difference_estimate(right, conf, pool)
    r = right - conf  # 0.1, 0.2, -0.2, 0.1, 0.3, 0.2
    assert est == pytest.approx(0.6 + r.mean())
    se = np.sqrt(r.var(ddof=1) / 6 + pool.var(ddof=1) / 3)
    assert 0 < lo and hi < 1 and (hi - lo) / 2 == pytest.approx(2.5705818366147395 * se)  # Student t, 5 df, 97.5 %


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_without_an_audit_there_is_no_estimate_and_batches_are_the_strategy_s(tmp_path, folder):
    truth = folder[1]
    p = LabelingProject.open(tmp_path / "p")
    p.setup("colours", CLASSES, batch_size=12, embedder="pixels", audit_fraction=0)
    p.add_folder(folder[0])
    sel = p.next_batch()
    assert "audit" not in sel.params and sel.params["random_fraction"] == 0.0
    p.add_labels({k: truth[k] for k in sel.ids})
    p.fit()
    assert p.audit_items() == [] and p.estimate()["accuracy"] is None
    with pytest.raises(Exception, match="0 to 0.9"):
        p.setup("colours", CLASSES, audit_fraction=0.95)
