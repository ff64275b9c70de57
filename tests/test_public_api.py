"""The public API DESIGN.md promises stays importable, with the same behaviour, whatever moves inside."""

import inspect

import numpy as np

import al_bench
from al_bench import kernels, scores, selectors
from al_bench.strategies.badge import gradient_embedding


def test_contract_names_are_importable_and_are_the_kernels():
    for name in ("entropy", "margin", "least_confidence", "bald", "check_probs"):
        assert callable(getattr(scores, name))
    for name in ("top_k", "kcenter_greedy", "kmeans_pp", "kmeans_pp_factored"):
        assert getattr(selectors, name) is getattr(kernels, name)  # one implementation
    assert list(inspect.signature(selectors.kcenter_greedy).parameters)[:4] == ["features", "labeled", "n", "rng"]
    assert callable(al_bench.select) and al_bench.Selection.__name__ == "Selection"
    assert gradient_embedding(np.ones((2, 3)), np.array([[0.7, 0.3], [0.2, 0.8]])).shape == (2, 6)


def test_select_through_the_package_attribute():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    ids = [f"i{k}" for k in range(30)]
    sel = al_bench.select(ids, x, 4, strategy="kcenter", labeled=ids[:3])
    assert len(sel.ids) == 4 and not set(sel.ids) & set(ids[:3])
    order = selectors.kcenter_greedy(x, np.arange(3), 4)
    assert list(sel.ids) == [ids[i] for i in order]
