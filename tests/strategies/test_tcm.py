"""tcm: TypiClust below switch_per_class labels per class, margin from there; each round's choice
recorded (decisions in the loop, params of a one-off pick) and kept across a resume."""

import numpy as np
import pytest

import al_bench


def _ids(x):
    return [f"i{k:03d}" for k in range(len(x))]


@pytest.mark.parametrize("n_labeled, candidate", [(12, "typiclust"), (30, "margin")])
def test_picks_are_typiclusts_below_the_switch_and_margins_from_it(blobs, n_labeled, candidate):
    x, y = blobs
    ids = _ids(x)
    lab = ids[:n_labeled]
    labels = [int(v) for v in y[:n_labeled]]
    # 3 classes x switch 10 = 30 labels: 12 is below, 30 is at the switch
    got = al_bench.select(ids, x, 6, "tcm", labeled=lab, labels=labels, rng=5)
    want = al_bench.select(ids, x, 6, candidate, labeled=lab, labels=labels, rng=5,
                           **({"k_neighbors": 20} if candidate == "typiclust" else {}))
    assert got.ids == want.ids and got.params["candidate"] == candidate
    np.testing.assert_allclose(got.scores, want.scores)
    sign = "<" if candidate == "typiclust" else ">="
    assert got.params["reason"] == f"{n_labeled} labeled {sign} 10 per class x 3 classes"


def test_without_model_outputs_a_one_off_pick_is_typiclust(blobs):
    x, _ = blobs
    got = al_bench.select(_ids(x), x, 5, "tcm", rng=1)
    assert got.ids == al_bench.select(_ids(x), x, 5, "typiclust", rng=1).ids
    assert (got.params["candidate"], got.params["reason"]) == ("typiclust", "no model outputs yet")


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_loop_records_each_round_s_choice_and_keeps_it_across_a_resume(blobs, tmp_path, monkeypatch):
    import al_bench.loop.simulate as sim
    from al_bench.data import initial_labeled, make_split
    from al_bench.heads.linear import LinearHead, LinearSettings
    from al_bench.loop import LoopSettings, plan_budget, run_loop
    from al_bench.loop.checkpoint import Checkpoint

    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3], 6, 8)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    s = LoopSettings(strategy="tcm", seed=0, params={"switch_per_class": 5.0},
                     make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=20), sd))

    def go(checkpoint=None):
        return run_loop(x, y, split, ("a", "b", "c"), plan, init, s, checkpoint=checkpoint)

    whole = go()
    d = whole.decisions
    assert [r["round"] for r in d] == list(range(1, plan.n_rounds + 1))
    assert all((r["candidate"] == "margin") == (r["n_labeled"] >= 15) for r in d)  # 5 per class x 3
    assert {r["candidate"] for r in d} == {"typiclust", "margin"}
    bought = {r["round"] for r in whole.selected if r["source"] != "initial"}
    assert bought == {r["round"] for r in d}
    real, calls = sim.select_batch, []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    ck = Checkpoint(tmp_path / "ck.npz", "f")
    monkeypatch.setattr(sim, "select_batch", killed)
    with pytest.raises(KeyboardInterrupt):
        go(ck)
    monkeypatch.setattr(sim, "select_batch", real)
    resumed = go(ck)
    assert resumed.decisions == whole.decisions and resumed.selected == whole.selected
