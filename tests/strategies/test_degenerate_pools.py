"""Every strategy on a degenerate pool: identical embeddings and a fully confident model."""

import numpy as np
import pytest

from al_bench.scores import bald
from al_bench.strategies import REGISTRY, PoolView, select_batch


class _Model:
    """Model outputs from fixed probabilities (e.g. a fully confident model)."""

    def __init__(self, x, probs):
        self.x, self.p = x, probs

    def probs(self, pos):
        return self.p[pos]

    def mc_probs(self, pos, k, seed):
        return np.stack([self.p[pos]] * k)

    def feature_dropout_probs(self, pos, m, rate, seed):
        return np.stack([self.p[pos]] * m)

    def bald_scores(self, pos, k, seed):
        return bald(self.mc_probs(pos, k, seed))

    def gradient_factors(self, pos):
        p = self.p[pos]
        a = p.copy()
        a[np.arange(len(p)), p.argmax(1)] -= 1.0
        return a, np.concatenate([self.x[pos], np.ones((len(pos), 1))], 1)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_duplicates_and_one_hot_model_do_not_break_any_strategy(name):
    x = np.ones((60, 4), np.float32)  # every embedding identical: every distance is 0
    probs = np.eye(3)[np.arange(60) % 3]  # fully confident: every uncertainty score is 0
    labeled = np.arange(0, 60, 6)
    view = PoolView(x, labeled, np.setdiff1d(np.arange(60), labeled), 3, 2, _Model(x, probs))
    picks, _ = select_batch(name, view, 25, np.random.default_rng(0), 0.0)
    assert len(set(picks.tolist())) == 25 and not np.isin(picks, labeled).any()
