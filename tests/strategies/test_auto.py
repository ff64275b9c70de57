"""auto: each round low (typiclust) or high (margin) by a removal test on the labels bought, or
tcm's rule where the test is not clear; never a hidden or test label; every choice recorded."""

import numpy as np
import pytest

import al_bench
import al_bench.strategies.auto as auto_mod
from al_bench.errors import UserError
from al_bench.strategies.auto import RIDGE, ridge_weights


def _ids(x):
    return [f"i{k:03d}" for k in range(len(x))]


@pytest.mark.parametrize("n", [5, 40])  # fewer rows than columns (the dual form), and more
def test_ridge_weights_solve_the_penalized_least_squares(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 12)), rng.integers(0, 3, n)
    xt = np.hstack([x, np.ones((n, 1))])
    target = np.eye(3)[y]
    pen = np.sqrt(np.r_[np.full(12, RIDGE), 1e-8])
    # the same objective as an ordinary least-squares problem with penalty rows appended
    want = np.linalg.lstsq(np.vstack([xt, np.diag(pen)]), np.vstack([target, np.zeros((13, 3))]), rcond=None)[0]
    np.testing.assert_allclose(ridge_weights(x, y, 3), want, atol=1e-8)


def test_without_the_test_auto_picks_as_tcm_does(blobs):
    x, y = blobs
    ids = _ids(x)
    for n_labeled, candidate in ((12, "typiclust"), (30, "margin")):
        lab, labels = ids[:n_labeled], [int(v) for v in y[:n_labeled]]
        got = al_bench.select(ids, x, 6, "auto", labeled=lab, labels=labels, rng=5, min_labels=10**6)
        want = al_bench.select(ids, x, 6, "tcm", labeled=lab, labels=labels, rng=5)
        assert got.ids == want.ids and got.params["candidate"] == candidate == want.params["candidate"]
        assert got.params["reason"].startswith("rule: ")


@pytest.mark.parametrize("n_labeled, mean, candidate, says", [
    (25, -0.1, "margin", "high budget"),      # below the switch (30 = 10 per class x 3): the test moves it earlier
    (25, 0.1, "typiclust", "low budget"),
    (25, 0.01, "typiclust", "not clear"),      # t = 0.5: the rule (below the switch: typiclust)
    (40, -0.1, "margin", "high budget"),
    (40, 0.1, "margin", "does not go back"),  # past the switch a "low" test does not bring typiclust back
    (40, 0.01, "margin", "not clear")])
def test_the_test_moves_the_switch_earlier_never_later(blobs, monkeypatch, n_labeled, mean, candidate, says):
    x, y = blobs
    ids = _ids(x)
    lab, labels = ids[:n_labeled], [int(v) for v in y[:n_labeled]]
    monkeypatch.setattr(auto_mod, "removal_test", lambda *a, **k: (mean, 0.02, 15))  # t = 5, -5 or 0.5
    got = al_bench.select(ids, x, 6, "auto", labeled=lab, labels=labels, rng=5)
    want = al_bench.select(ids, x, 6, candidate, labeled=lab, labels=labels, rng=5)
    assert got.ids == want.ids and got.params["candidate"] == candidate
    reason = got.params["reason"]
    assert says in reason and f"{100 * mean:+.1f} points" in reason


def test_a_candidate_must_be_another_strategy(blobs):
    x, y = blobs
    for bad in ("nope", "auto"):
        with pytest.raises(UserError, match="not a strategy auto can choose"):
            al_bench.select(_ids(x), x, 3, "auto", labeled=_ids(x)[:30], labels=[int(v) for v in y[:30]], low=bad)


def _loop(x, y, params, split):
    from al_bench.data import initial_labeled
    from al_bench.heads.linear import LinearHead, LinearSettings
    from al_bench.loop import LoopSettings, plan_budget, run_loop

    plan = plan_budget(len(split.pool), [0.2, 0.6], 6, 8)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    s = LoopSettings(strategy="auto", seed=0, params=params,
                     make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=20), sd))
    return run_loop(x, y, split, ("a", "b", "c"), plan, init, s)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_hidden_and_test_labels_are_never_read(blobs):
    x, y = blobs
    params = {"min_labels": 6, "t_threshold": 0.5, "switch_per_class": 1000.0}
    from al_bench.data import make_split

    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)  # the same split in every run
    first = _loop(x, y, params, split)
    reasons = [d["reason"] for d in first.decisions]
    assert any("removal test" in r and "not clear" not in r for r in reasons)  # the test decided some rounds
    bought = np.asarray([r["index"] for r in first.selected])  # dataset indices
    changed = y.copy()
    hidden = np.setdiff1d(np.concatenate([split.pool, split.test]), bought)  # never bought, or test items
    changed[hidden] = (changed[hidden] + 1) % 3
    second = _loop(x, changed, params, split)
    assert second.decisions == first.decisions
    assert second.selected == first.selected
    # the control: a bought label changed is seen (so the comparison above can fail)
    control = y.copy()
    control[bought[:6]] = (control[bought[:6]] + 1) % 3  # the initial set
    third = _loop(x, control, params, split)
    assert [d["reason"] for d in third.decisions] != reasons


@pytest.mark.parametrize("n", [20, 400])  # the dual form on small training parts, the Gram updates on large
def test_removal_test_equals_fitting_every_split_from_scratch(n):
    from al_bench.strategies.auto import removal_test, ridge_accuracy

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 16))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.int64) + (x[:, 1] > 0.8)
    typical = rng.random(n)
    mean, se, splits = removal_test(x, y, typical, 3, np.random.default_rng(7), 5, 2, 0.2)
    order_rng, diffs = np.random.default_rng(7), []
    for _ in range(2):
        order = order_rng.permutation(n)
        for f in range(5):
            test = order[f::5]
            train = np.setdiff1d(order, test)
            r = round(0.2 * train.size)
            by_typ = train[np.argsort(-typical[train], kind="stable")]
            no_typ, no_atyp = by_typ[r:], by_typ[:-r]
            diffs.append(ridge_accuracy(x[no_atyp], y[no_atyp], x[test], y[test], 3)
                         - ridge_accuracy(x[no_typ], y[no_typ], x[test], y[test], 3))
    assert splits == 10 and mean == pytest.approx(np.mean(diffs), abs=1e-12)
    assert se == pytest.approx(np.std(diffs, ddof=1) / np.sqrt(10), abs=1e-12)
    assert np.ptp(diffs) > 0  # the splits differ, so the comparison means something
