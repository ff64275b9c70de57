"""bait: its picks equal a float64 brute force of the forward-backward objective on explicit
Fisher embeddings; the Fisher matrix is the sum of the explicit embeddings' outer products; a
pool whose matrices would not fit is refused up front, naming the way out; dim projects first."""

import numpy as np
import pytest

import al_bench.strategies.bait as bait_module
from al_bench.errors import UserError
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.bait import bait_select, fisher_matrix


def _probs(n, c, seed, scale=1.5):
    z = np.random.default_rng(seed).normal(size=(n, c)) * scale
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _embeddings(p, x):
    """(N, C, C·D): rows √p_c (e_c − p) ⊗ x, as the authors' get_exp_grad_embedding writes them."""
    n, c = p.shape
    out = np.zeros((n, c, c * x.shape[1]))
    for i in range(n):
        g = np.diag(np.sqrt(p[i])) @ (np.eye(c) - np.outer(np.ones(c), p[i]))
        out[i] = np.kron(g, x[i][None, :])
    return out


def _brute_force(p, x, pl, xl, n, lamb, oversample=2):
    """Forward: add the item that lowers tr((λI + Σ XᵀX)⁻¹ F) most; backward: drop the item whose
    removal raises it least. Every objective from an explicit inverse."""
    u, c = p.shape
    L = len(pl)
    xu, xlab = _embeddings(p, x), _embeddings(pl, xl)
    outer = lambda e: np.einsum("nci,ncj->ij", e, e)  # noqa: E731
    fisher = (outer(xu) + outer(xlab)) / (u + L)
    base = lamb * np.eye(fisher.shape[0]) + (outer(xlab) / (L + n) if L else 0)
    xs = xu * np.sqrt(n / (L + n))

    def objective(items):
        return np.trace(np.linalg.inv(base + sum((xs[i].T @ xs[i] for i in items), np.zeros_like(base))) @ fisher)

    chosen = []
    for _ in range(oversample * n):
        now = objective(chosen)
        chosen.append(max((now - objective(chosen + [i]), -i) for i in range(u) if i not in chosen)[1] * -1)
    while len(chosen) > n:
        now = objective(chosen)
        drop = min((objective([j for j in chosen if j != i]) - now, k) for k, i in enumerate(chosen))[1]
        del chosen[drop]
    return chosen


@pytest.mark.parametrize("labeled, lamb, seed", [(0, 1.0, 0), (6, 0.5, 1), (9, 0.01, 2)])
def test_picks_equal_a_float64_brute_force_of_the_objective(labeled, lamb, seed):
    rng = np.random.default_rng(seed)
    u, c, d = 24, 3, 3
    p, pl = _probs(u, c, seed), _probs(labeled, c, seed + 10)
    x = np.c_[rng.normal(size=(u, d)), np.ones(u)]
    xl = np.c_[rng.normal(size=(labeled, d)), np.ones(labeled)]
    want = _brute_force(p, x, pl, xl, 4, lamb)
    got, gains = bait_select(p, x, pl, xl, 4, lamb)
    assert got.tolist() == want
    assert (gains > 0).all()


def test_the_fisher_matrix_is_the_sum_of_the_embeddings_outer_products():
    rng = np.random.default_rng(3)
    p, x = _probs(30, 4, 3), rng.normal(size=(30, 5))
    e = _embeddings(p, x)
    np.testing.assert_allclose(fisher_matrix(p, x), np.einsum("nci,ncj->ij", e, e), rtol=0, atol=1e-12)


def test_a_pool_that_would_not_fit_is_refused_up_front(head_cache, monkeypatch):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    monkeypatch.setattr(bait_module, "_available_bytes", lambda: 10 * 2**20)
    monkeypatch.setattr(bait_module, "bait_select", lambda *a, **k: pytest.fail("selection ran after the refusal"))
    with pytest.raises(UserError, match=r"needs about .* GiB .* is available: set strategy.params.dim") as err:
        select_batch("bait", view, 5, np.random.default_rng(0))
    assert "\n" not in str(err.value)


def test_dim_projects_onto_leading_components_first(head_cache):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    full = select_batch("bait", view, 8, np.random.default_rng(0))[0]
    same = select_batch("bait", view, 8, np.random.default_rng(0), params={"dim": x.shape[1]})[0]  # dim = d: no projection
    np.testing.assert_array_equal(full, same)
    one = select_batch("bait", view, 8, np.random.default_rng(0), params={"dim": 1})[0]
    assert len(set(one.tolist())) == 8 and set(one.tolist()) <= set(view.unlabeled.tolist())
