"""The one front door for picking: a SelectionRequest checked once, one candidates/count helper,
one seeding scheme, cold rounds as a property of the request."""

import numpy as np
import pytest

import al_bench
from al_bench.cli.select_flags import flag_for
from al_bench.errors import UserError
from al_bench.picking.request import CONFIG_KEYS, SelectionRequest, candidates, check_request, count
from al_bench.rng import stream


def _words(req: SelectionRequest, word=str) -> str:
    with pytest.raises(UserError) as err:
        check_request(req)
    return err.value.worded(word)


@pytest.mark.parametrize("req, api, cli", [
    (SelectionRequest("kcenter", n=0), "n: got 0; give a whole number >= 1", "-n: got 0"),
    (SelectionRequest("kcenter", n=2, total=5), "n: give n (how many to pick) or total", None),
    (SelectionRequest("kcenter", n=2, random_fraction=float("nan")), "random_fraction: got nan",
     "--random-fraction: got nan"),
    (SelectionRequest("margin", n=2, min_distance=1.0, outputs="probs"),
     "min_distance: is a k-center stop; strategy 'margin'", "--min-distance: is a k-center stop"),
    (SelectionRequest("kcenter", n=2, min_distance=1.0, random_fraction=0.5),
     "cannot be combined with a random share (random_fraction > 0)", "(--random-fraction > 0)"),
    (SelectionRequest("kcenter", n=2, seed=-3), "seed: got -3", "--seed: got -3"),
    (SelectionRequest("margin", n=2), "strategy: margin needs model outputs: give probs, or labels",
     "--strategy: margin needs model outputs: give --predictions, or a --labeled CSV with a 'label' column"),
    (SelectionRequest("dropquery", n=2, outputs="probs"), "dropquery runs dropout passes through a head",
     "give a --labeled CSV with a 'label' column (or a model) instead of --predictions"),
    (SelectionRequest("kcenter", n=2, params={"nope": 1}), "strategy.params.nope: not a parameter",
     "--param nope: not a parameter"),
    (SelectionRequest("nosuch", n=2), "strategy: unknown strategy 'nosuch'", "--strategy: unknown"),
])
def test_one_check_each_caller_words_its_own_way(req, api, cli):
    assert api in _words(req)
    if cli is not None:
        assert cli in _words(req, flag_for)


def test_the_config_words_the_same_errors_as_config_keys():
    text = _words(SelectionRequest("kcenter", random_fraction=2.0), lambda k: CONFIG_KEYS.get(k, k))
    assert text.startswith("strategy.random_fraction: got 2.0")


def test_a_request_that_is_all_random_needs_no_model():
    req = check_request(SelectionRequest("margin", n=4, random_fraction=1.0))
    assert req.checked and req.n_random(4) == 4


def test_candidates_and_count_are_one_helper():
    ids = ["a", "b", "c", "d"]
    lab, cand = candidates(ids, ["b"], ["a", "b", "c"])
    assert lab.tolist() == [1] and cand.tolist() == [0, 2]
    assert count(SelectionRequest(total=3), 4, lab.size, cand.size) == 2
    assert count(SelectionRequest(n=9), 4, lab.size, cand.size, up_to=True) == 2
    with pytest.raises(UserError, match=r"^n: 9 asked, but 2 candidate\(s\) are left \(of 4 ids, 1 labeled\)"):
        count(SelectionRequest(n=9), 4, lab.size, cand.size)
    with pytest.raises(UserError, match="^total: the labeled set already has 1"):
        count(SelectionRequest(total=1), 4, lab.size, cand.size)


def test_an_int_seed_is_the_pick_stream_of_that_seed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    ids = [f"i{k}" for k in range(60)]
    by_seed = al_bench.select(ids, x, 7, "typiclust", labeled=ids[:3], rng=11)
    by_stream = al_bench.select(ids, x, 7, "typiclust", labeled=ids[:3], rng=stream(11, "pick"))
    assert by_seed.ids == by_stream.ids and by_seed.params["rng"] == "al_bench.rng.stream(11, 'pick')"
    assert "rng" not in by_stream.params  # a Generator given: the stream is the caller's to name


def test_cold_rounds_follow_the_request_not_a_fake_round():
    """A one-off pick is in its cold start exactly when it has no model outputs: hybrid with
    probabilities shortlists by entropy whatever cold_rounds says; without them it is k-center."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 3)).astype(np.float32)
    ids = [f"i{k}" for k in range(80)]
    p = np.full((80, 2), 0.5)
    sure = np.arange(80) >= 8  # only the first 8 are uncertain
    p[sure] = [0.999, 0.001]
    warm = al_bench.select(ids, x, 4, "hybrid", probs=p, cold_rounds=5, shortlist_factor=2.0)
    assert set(warm.positions) <= set(range(8))
    cold = al_bench.select(ids, x, 4, "hybrid", cold_rounds=5)  # no outputs: k-center, embeddings only
    kc = al_bench.select(ids, x, 4, "kcenter")
    assert cold.ids == kc.ids


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_simulation_checks_its_request_once_per_run(monkeypatch, blobs):
    """Given the request parse_settings checked, the rounds never check the strategy again;
    without one, run_loop checks it once."""
    import al_bench.strategies
    import al_bench.strategies._params as params_mod
    import al_bench.strategies._select as select_mod
    from al_bench.data import initial_labeled, make_split
    from al_bench.heads.linear import linear_head
    from al_bench.loop import LoopSettings, plan_budget, run_loop

    calls = []
    real = params_mod.check_param_values

    def counted(*a):
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(params_mod, "check_param_values", counted)
    monkeypatch.setattr(select_mod, "check_param_values", counted)
    monkeypatch.setattr(al_bench.strategies, "check_param_values", counted)
    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3], 6, 10)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    req = check_request(SelectionRequest("entropy", stream=("select",), outputs="model"))
    calls.clear()

    def head(d, c, sd):
        return linear_head(d, c, sd)

    run_loop(x, y, split, ("a", "b", "c"), plan, init, LoopSettings("entropy", 0, make_head=head, request=req))
    assert plan.n_rounds >= 3 and calls == []
    run_loop(x, y, split, ("a", "b", "c"), plan, init, LoopSettings("entropy", 0, make_head=head))
    assert len(calls) == 1
