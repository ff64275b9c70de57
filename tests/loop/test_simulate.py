"""run_loop: one nested trajectory per run, paired across strategies, reproducible."""

from functools import lru_cache

import numpy as np
import pytest

from al_bench.cli.run import settings_from
from al_bench.data import initial_labeled, make_split
from al_bench.heads.linear import LinearHead, LinearSettings
from al_bench.loop import LoopSettings, plan_budget, run_loop
from al_bench.loop.simulate import initial_set
from support import compose_config


def _run(strategy, blobs, seed=0):
    x, y = blobs
    split = make_split(y, seed=seed, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3, 1.0], 6, 10)
    init = initial_labeled(len(split.pool), plan.initial, seed)
    s = LoopSettings(strategy=strategy, seed=seed,
                     make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=60), sd))
    return run_loop(x, y, split, ("a", "b", "c"), plan, init, s), plan, init


def test_loop_walks_one_nested_trajectory(blobs):
    res, plan, init = _run("entropy", blobs)
    assert [r["n_labeled"] for r in res.curve] == list(plan.points)
    bought = [r["pool_position"] for r in res.selected]
    assert bought[: len(init)] == init.tolist()
    assert len(bought) == len(set(bought)) == plan.points[-1]
    rounds = [r["round"] for r in res.selected]
    assert rounds == sorted(rounds) and rounds[-1] == plan.n_rounds
    kappas = [r["stop_kappa"] for r in res.curve]  # each point's model against the previous one's
    assert np.isnan(kappas[0]) and all(-1 <= k <= 1 for k in kappas[1:])
    for row in res.curve:  # per-class counts add up at every point
        assert row["labeled_a"] + row["labeled_b"] + row["labeled_c"] == row["n_labeled"]
        assert 0 <= row["accuracy"] <= 1 and row["temperature"] > 0
        recalls = [row["recall_a"], row["recall_b"], row["recall_c"]]  # the test split holds all three
        assert row["balanced_accuracy"] == np.mean(recalls) and row["worst_class_recall"] == min(recalls)
        assert 0 <= row["macro_f1"] <= 1


@pytest.mark.slow
def test_runs_are_paired_and_reproducible(blobs):
    a, _, init_a = _run("random", blobs)
    b, _, init_b = _run("margin", blobs)
    assert init_a.tolist() == init_b.tolist()
    # at 100 % of the pool every strategy trains on the same set: identical accuracy
    assert a.curve[-1]["accuracy"] == b.curve[-1]["accuracy"] == a.full_pool_accuracy
    again, _, _ = _run("margin", blobs)
    assert [r["accuracy"] for r in again.curve] == [r["accuracy"] for r in b.curve]
    assert again.selected == b.selected


# -- cold start: budget.initial_strategy ----------------------------------------------------------

@lru_cache(maxsize=None)
def _digits(seed):
    """digits with pixel features, split at ``seed``: (features, labels, split, class names)."""
    from al_bench.data import load_dataset
    from al_bench.embedders import embed

    ds = load_dataset("digits")
    split = make_split(ds.labels, seed, 0.2, 0.1)
    emb = embed(ds.images, split.pool, "pixels", ds.fingerprint(), None, seed)
    return emb.features, ds.labels, split, ds.class_names


def _study(strategy, seed, initial_strategy, labels=None):
    """One run of a composed config (digits, pixels, 1 and 2 labels per class) as the job runs
    it: settings → plan → initial set → loop. ``labels`` replaces the dataset's labels."""
    s, _ = settings_from(compose_config("dataset=digits", "embedder=pixels", "budget=low", "budget.per_class=[1,2]",
                                        f"budget.initial_strategy={initial_strategy}", f"strategy={strategy}",
                                        f"seed={seed}", "model.steps=40"))
    x, y, split, names = _digits(seed)
    y = y if labels is None else labels
    plan = plan_budget(len(split.pool), s.budget.fractions, s.budget.initial, s.budget.batch_size,
                       per_class=s.budget.per_class, n_classes=len(names), initial_strategy=s.budget.initial_strategy)
    init = initial_set(plan, x[split.pool], len(names), s.seed)
    ls = LoopSettings(strategy=s.strategy.name, seed=s.seed, params=dict(s.strategy.params),
                      make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=40), sd))
    res = run_loop(x, y, split, names, plan, init, ls)
    initial = [r["pool_position"] for r in res.selected if r["source"] == "initial"]
    assert initial == init.tolist()
    return res, initial


@pytest.mark.slow
def test_cold_start_is_the_same_for_every_strategy_at_a_seed():
    runs = {name: _study(name, 0, "typiclust") for name in ("entropy", "kcenter", "random")}
    sets = {name: initial for name, (_, initial) in runs.items()}
    assert sets["entropy"] == sets["kcenter"] == sets["random"] and len(sets["entropy"]) == 10
    # the strategies then differ: the comparison is paired on the initial set, not trivially equal
    picks = {name: [r["pool_position"] for r in res.selected if r["source"] != "initial"] for name, (res, _) in runs.items()}
    assert picks["entropy"] != picks["kcenter"]
    # the first budget point (1 × C) is read on the initial set alone: the same accuracy everywhere
    first = {runs[n][0].curve[0]["accuracy"] for n in runs}
    assert len(first) == 1 and runs["entropy"][0].curve[0]["n_labeled"] == 10


@pytest.mark.slow
def test_cold_start_differs_across_seeds_and_from_the_random_initial_set():
    _, typ0 = _study("entropy", 0, "typiclust")
    _, typ1 = _study("entropy", 1, "typiclust")
    _, rnd0 = _study("entropy", 0, "random")
    assert typ0 != typ1 and typ0 != rnd0
    # random stays today's draw: the seed's uniform initial set
    x, _, split, _ = _digits(0)
    assert rnd0 == initial_labeled(len(split.pool), 10, 0).tolist()


@pytest.mark.slow
def test_cold_start_reads_no_labels():
    """Permuting the labels inside the pool (same split, same features) leaves the initial set
    as it was, while what the head learns — and so what entropy buys next — changes."""
    _, y, split, _ = _digits(0)
    y2 = y.copy()
    y2[split.pool] = np.random.default_rng(0).permutation(y[split.pool])
    a, init_a = _study("entropy", 0, "kmeans_centroids")
    b, init_b = _study("entropy", 0, "kmeans_centroids", labels=y2)
    assert init_a == init_b
    assert [r["pool_position"] for r in a.selected] != [r["pool_position"] for r in b.selected]
    assert [r["label"] for r in a.selected[:10]] != [r["label"] for r in b.selected[:10]]


@pytest.mark.parametrize("name", ["kcenter", "typiclust", "kmeans_centroids"])
def test_initial_set_by_each_feature_strategy_is_reproducible(name):
    x, _, split, _ = _digits(0)
    plan = plan_budget(len(split.pool), [0.1], 12, 5, initial_strategy=name)
    a = initial_set(plan, x[split.pool], 10, 3)
    assert a.tolist() == initial_set(plan, x[split.pool], 10, 3).tolist() == sorted(set(a.tolist()))
    assert a.size == 12 and a.min() >= 0 and a.max() < len(split.pool)
    # the seed's own stream: another seed on the same features draws another set
    assert a.tolist() != initial_set(plan, x[split.pool], 10, 4).tolist()


def test_an_initial_strategy_that_needs_a_model_is_refused():
    from al_bench.errors import UserError

    x, _, split, _ = _digits(0)
    plan = plan_budget(len(split.pool), [0.1], 12, 5, initial_strategy="entropy")
    with pytest.raises(UserError, match=r"^budget\.initial_strategy: 'entropy' needs model outputs"):
        initial_set(plan, x[split.pool], 10, 0)


@pytest.mark.slow
def test_sampling_reaches_the_strategy_through_the_loop(blobs):
    """LoopSettings.sampling is what select_batch draws with: power-sampled entropy buys other
    items than top-k entropy from the same state, and reruns the same."""
    from al_bench import scores
    from al_bench.kernels.topk import top_k
    from al_bench.strategies import STRATEGIES, register

    def pool(view, rng):
        return scores.entropy(view.probs())

    @register("_entropy_scored", needs={"probs"}, score="entropy", pool_scores=pool)
    def entropy_scored(view, n, rng):
        return view.unlabeled[top_k(pool(view, rng), n, rng)]

    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3], 6, 10)
    init = initial_labeled(len(split.pool), plan.initial, 0)

    def run(strategy, sampling, beta=1.0):
        s = LoopSettings(strategy=strategy, seed=0, sampling=sampling, beta=beta,
                         make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=60), sd))
        return [r["pool_position"] for r in run_loop(x, y, split, ("a", "b", "c"), plan, init, s).selected]

    try:
        topk, power = run("_entropy_scored", "topk"), run("_entropy_scored", "power", 1.0)
        assert topk == run("entropy", "topk")  # the test strategy is entropy under top-k
        assert power != topk and power == run("_entropy_scored", "power", 1.0)
        assert len(set(power)) == len(power) == plan.points[-1]
    finally:
        STRATEGIES.unregister("_entropy_scored")


# -- the run memo: embedding-only values computed once per run --------------------------------------

def _typiclust_run(blobs, checkpoint=None):
    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3, 0.5], 6, 8)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    s = LoopSettings(strategy="typiclust", seed=0, params={"max_clusters": 5},
                     make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=20), sd))
    return run_loop(x, y, split, ("a", "b", "c"), plan, init, s, checkpoint=checkpoint), plan


def test_a_capped_typiclust_clusters_the_pool_once_per_run_and_resumes_to_the_same_picks(blobs, tmp_path,
                                                                                          monkeypatch):
    import al_bench.loop.simulate as sim
    import al_bench.strategies.typiclust as tc
    from al_bench.loop.checkpoint import Checkpoint

    calls, rounds = [], []
    real_kmeans, real_select = tc.kmeans, sim.select_batch
    monkeypatch.setattr(tc, "kmeans", lambda x, k, rng, iters: calls.append(k) or real_kmeans(x, k, rng, iters))

    def select(*args, **kwargs):
        rounds.append(1)
        if len(rounds) == 3:
            raise KeyboardInterrupt  # killed in round 3, after round 2's checkpoint
        return real_select(*args, **kwargs)

    whole, plan = _typiclust_run(blobs)
    assert plan.n_rounds > 3 and calls == [5]  # clusters capped at 5 from the first round: one k-means
    # a run killed mid-way recomputes the clustering after its restart and buys the same items
    ck = Checkpoint(tmp_path / "ck.npz", "f")
    monkeypatch.setattr(sim, "select_batch", select)
    with pytest.raises(KeyboardInterrupt):
        _typiclust_run(blobs, ck)
    monkeypatch.setattr(sim, "select_batch", real_select)
    assert ck.exists()
    calls.clear()
    resumed, _ = _typiclust_run(blobs, ck)
    assert resumed.selected == whole.selected and calls == [5]
    assert [r["accuracy"] for r in resumed.curve] == [r["accuracy"] for r in whole.curve]
    # κ on the stop set against the previous point's model: the resumed run reads that model's
    # predictions from the checkpoint
    kappas = [r["stop_kappa"] for r in whole.curve]
    assert np.isnan(kappas[0]) and all(-1 <= k <= 1 for k in kappas[1:])
    np.testing.assert_array_equal([r["stop_kappa"] for r in resumed.curve], kappas)


def test_run_memo_values_depend_on_seed_and_key_not_on_the_round():
    from al_bench.strategies import RunMemo

    draws = []
    memo = RunMemo(3, max_entries=2)
    first = memo.get(("a", 1), lambda g: draws.append(1) or g.random())
    assert memo.get(("a", 1), lambda g: draws.append(1) or g.random()) == first and draws == [1]
    assert RunMemo(3).get(("a", 1), lambda g: g.random()) == first  # another run, same seed: same value
    assert RunMemo(4).get(("a", 1), lambda g: g.random()) != first
    assert memo.get(("a", 2), lambda g: g.random()) != first
    memo.get(("b",), lambda g: 0.0)  # a third key: the least recently used ("a", 1) goes
    memo.get(("a", 1), lambda g: draws.append(1) or g.random())
    assert draws == [1, 1]


@pytest.mark.slow
def test_a_run_resumed_right_after_a_budget_point_picks_with_that_points_head(blobs, tmp_path, monkeypatch):
    """Between budget points the head is a cheaper selection head; the round after a point picks with
    the point's own (evaluation) head. A run killed just after a point must do the same on resume."""
    import al_bench.loop.simulate as sim
    from al_bench.loop.checkpoint import Checkpoint

    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3, 0.5], 6, 8)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    s = LoopSettings(strategy="entropy", seed=0,
                     make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=60), sd),
                     make_selection_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=3), sd))

    def go(checkpoint=None):
        return run_loop(x, y, split, ("a", "b", "c"), plan, init, s, checkpoint=checkpoint)

    whole = go()
    first_point = plan.points[0]
    real_select = sim.select_batch

    def killed_after_the_first_point(name, view, *args, **kwargs):
        if view.labeled.size == first_point:
            raise KeyboardInterrupt
        return real_select(name, view, *args, **kwargs)

    ck = Checkpoint(tmp_path / "ck.npz", "f")
    monkeypatch.setattr(sim, "select_batch", killed_after_the_first_point)
    with pytest.raises(KeyboardInterrupt):
        go(ck)
    monkeypatch.setattr(sim, "select_batch", real_select)
    resumed = go(ck)
    assert resumed.selected == whole.selected
    assert [r["accuracy"] for r in resumed.curve] == [r["accuracy"] for r in whole.curve]
    # and the selection head is used between points: picks differ from a run that always uses the full head
    full = run_loop(x, y, split, ("a", "b", "c"), plan, init,
                    LoopSettings(strategy="entropy", seed=0,
                                 make_head=lambda d, c, sd: LinearHead(d, c, LinearSettings(steps=60), sd)))
    assert full.selected != whole.selected
