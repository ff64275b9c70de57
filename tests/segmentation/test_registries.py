"""Contract tests every registered segmentation part inherits, as the strategies' do
(tests/strategies/test_registry.py): recipes, providers and pixel scorers. One name everywhere
(the module is the registry key), metadata that holds, and each kind's invariants on a small
input — parametrized over the registry, so a new module is tested without a line here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from al_bench.errors import UserError
from al_bench.segmentation import select_segmentation
from al_bench.segmentation.network import SegmentationModel
from al_bench.segmentation.provider import run_provider
from al_bench.segmentation.providers import PROVIDERS, provider_names
from al_bench.segmentation.recipes import ALIASES, NEEDS, RECIPES, recipe_entry, recipe_names, recipe_params
from al_bench.segmentation.scorers import (
    PIXEL_SCORERS,
    SEGMENTATION_METHODS,
    SEGMENTATION_SCORERS,
    pixel_uncertainty,
    scorer_names,
)
from al_bench.segmentation.select import SEGMENTATION_STRATEGIES
from al_bench.strategies import STRATEGIES


# ---------------------------------------------------------------- recipes
@pytest.fixture
def pool():
    """40 ids with every per-image array a recipe may read; 4 labeled, candidates ids 2..31."""
    rng = np.random.default_rng(0)
    ids = [f"img{i:02d}.png" for i in range(40)]
    arrays = {"scores": rng.random(40), "alges": rng.normal(size=(40, 12)).astype(np.float32),
              "features": rng.normal(size=(40, 5)).astype(np.float32)}
    return ids, arrays, ids[:4], ids[2:32]


def test_recipe_names_are_the_listed_recipes_in_order():
    assert recipe_names() == SEGMENTATION_STRATEGIES == tuple(sorted(RECIPES, key=lambda n: RECIPES.entry(n).order))
    assert len({RECIPES.entry(n).order for n in RECIPES}) == len(RECIPES)


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_declares_what_it_is(name):
    e = RECIPES.entry(name)
    assert e.module == f"al_bench.segmentation.recipes.{name}", "one name: the module is the key"
    assert e.needs and e.needs <= NEEDS and isinstance(e.score, str) and e.score
    assert recipe_params(name, {}) == dict(e.options)
    for k, (lo, hi) in e.param_ranges.items():
        assert lo <= e.options[k] <= hi, k
    for k, allowed in e.param_choices.items():
        assert e.options[k] in allowed, k
    if "strategy" in e.meta:  # a recipe that runs a classification strategy carries its name
        assert e.strategy == name and STRATEGIES.entry(name).needs <= {"features"}


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_contract(name, pool):
    ids, arrays, lab, cand = pool
    before = {k: v.copy() for k, v in arrays.items()}
    sel = select_segmentation(ids, 7, name, labeled=lab, candidates=cand, rng=3, **arrays)
    assert sel.positions.shape == (7,) and sel.positions.dtype == np.int64
    assert len(set(sel.ids)) == 7, "unique"
    assert set(sel.ids) <= set(cand) - set(lab), "only unlabeled candidates"
    assert sel.ids == tuple(ids[i] for i in sel.positions)
    again = select_segmentation(ids, 7, name, labeled=lab, candidates=cand, rng=3, **arrays)
    assert again.positions.tolist() == sel.positions.tolist(), "deterministic for the same seed"
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, before[k])
        assert v.flags.writeable, "the recipe's view must not change the caller's arrays"


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_can_take_every_candidate(name, pool):
    ids, arrays, lab, cand = pool
    left = sorted(set(cand) - set(lab))
    sel = select_segmentation(ids, len(left), name, labeled=lab, candidates=cand, rng=0, **arrays)
    assert sorted(sel.ids) == left


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_parameters_outside_their_declared_values_fail_in_one_line(name):
    e = RECIPES.entry(name)
    for k, (lo, hi) in e.param_ranges.items():
        for bad in [v for v in (lo - 1, hi + 1, math.nan, "abc") if not (isinstance(v, float) and math.isinf(v))]:
            with pytest.raises(UserError, match=rf"^--param: {k}={bad}: give a number") as err:
                recipe_params(name, {k: bad})
            assert "\n" not in str(err.value)
    for k in e.param_choices:
        with pytest.raises(UserError, match=rf"^--param: {k}=bogus: "):
            recipe_params(name, {k: "bogus"})
    with pytest.raises(UserError, match=rf"^--param: {name} takes "):
        recipe_params(name, {"no_such_parameter": 1})


def test_deprecated_names_stand_for_recipes_and_are_classification_strategies():
    """An alias exists only because a classification strategy has that name for another algorithm."""
    for old, new in ALIASES.items():
        assert new in RECIPES and old not in RECIPES and old in STRATEGIES
        assert recipe_entry(old) is recipe_entry(new) or recipe_entry(old).name == new
    shared = set(RECIPES) & set(STRATEGIES)
    assert all("strategy" in RECIPES.entry(n).meta for n in shared), "a shared name is one algorithm"


# ---------------------------------------------------------------- pixel scorers
def test_pixel_scorer_names_and_their_image_scorers():
    assert scorer_names() == SEGMENTATION_METHODS
    assert [m for m in scorer_names() if m in ("entropy", "margin", "least_confidence", "bald")] == [
        "entropy", "margin", "least_confidence", "bald"]  # the documented ones, in their order
    assert set(SEGMENTATION_SCORERS) == {f"pixel_{m}" for m in scorer_names()}


@pytest.mark.parametrize("name", scorer_names())
def test_pixel_scorer_contract(name):
    e = PIXEL_SCORERS.entry(name)
    assert e.module == f"al_bench.segmentation.scorers.{name}", "one name: the module is the key"
    assert len(e.needs) == 1 and isinstance(e.score, str) and e.score
    rng = np.random.default_rng(1)
    samples = rng.dirichlet(np.ones(3), size=(4, 6, 5)).transpose(0, 3, 1, 2)  # (K=4, C=3, H=6, W=5)
    u = pixel_uncertainty(samples, name)
    assert u.shape == (6, 5) and u.dtype == np.float64 and np.isfinite(u).all() and (u >= -1e-12).all()
    certain = np.zeros((4, 3, 6, 5))
    certain[:, 1] = 1.0  # every pass sure of class 1 everywhere: nothing to learn
    np.testing.assert_allclose(pixel_uncertainty(certain, name), 0.0, atol=1e-12)
    if "samples" in e.needs:
        with pytest.raises(ValueError, match="needs MC samples"):
            pixel_uncertainty(samples[0], name)
    else:  # one map, or MC samples scored by their mean
        assert pixel_uncertainty(samples[0], name).shape == (6, 5)
        np.testing.assert_allclose(u, pixel_uncertainty(samples.mean(0), name), atol=1e-12)
        assert (pixel_uncertainty(np.full((3, 6, 5), 1 / 3), name) > u).all(), "uniform is the most uncertain"


# ---------------------------------------------------------------- providers
class DropNet(nn.Module):
    """A 3 → 4 → 2 conv net with dropout before its 1 × 1 head: the smallest model every provider runs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.5))
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.fixture(scope="module")
def tiny_model():
    """The model, run on one torch thread (the tensors are tiny: a second thread only waits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield SegmentationModel(DropNet(), num_classes=2)
    torch.set_num_threads(before)


def test_provider_names_are_listed_in_order_and_offered_by_the_command():
    from al_bench.cli.select import build_parser

    assert provider_names()[0] == "entropy"  # the default first
    assert [p for p in provider_names() if p in ("entropy", "mc_dropout", "bald")] == ["entropy", "mc_dropout", "bald"]
    action = next(a for a in build_parser()._actions if a.dest == "provider")
    assert tuple(action.choices) == provider_names()


@pytest.mark.parametrize("name", provider_names())
def test_provider_contract(name, tiny_model):
    e = PROVIDERS.entry(name)
    assert e.module == f"al_bench.segmentation.providers.{name}", "one name: the module is the key"
    assert e.pixel in PIXEL_SCORERS and e.needs <= {"dropout"} and isinstance(e.score, str)
    assert ("mc_samples" in e.options) == ("dropout" in e.needs), "random passes take a count, one pass none"
    images = np.random.default_rng(2).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    before = images.copy()
    out = run_provider(tiny_model, images, provider=name, mc_samples=3, seed=1, batch_size=2, progress=False)
    assert out.scores.shape == (5,) and np.isfinite(out.scores).all() and (out.scores >= 0).all()
    assert out.pooled.shape == (5, 4) and out.info["provider"] == name
    again = run_provider(tiny_model, images, provider=name, mc_samples=3, seed=1, batch_size=2, progress=False)
    np.testing.assert_array_equal(out.scores, again.scores)
    np.testing.assert_array_equal(images, before)
    other = run_provider(tiny_model, images, provider=name, mc_samples=3, seed=2, batch_size=2, progress=False)
    assert np.array_equal(other.scores, out.scores) == ("dropout" not in e.needs), "only random passes read the seed"
