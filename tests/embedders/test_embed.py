"""embed(): option checks, resolution, and what an embedder's output must be."""

import numpy as np
import pytest

from al_bench.embedders import EMBEDDERS, embed
from al_bench.errors import UserError


def test_unknown_embedder_lists_the_choices():
    with pytest.raises(UserError) as err:
        embed(np.zeros((2, 2, 2, 1), np.uint8), np.arange(2), "nope", "fp", None, 0)
    assert str(err.value) == f"embedder: unknown 'nope'; choose one of {sorted(EMBEDDERS)}"


def test_nan_embeddings_are_refused_with_the_count(tmp_path, register_embedder):
    def broken(images, fit_idx, seed):
        out = images.reshape(len(images), -1).astype(np.float32)
        out[1, 2] = np.nan
        out[3, 0] = np.inf
        return out

    register_embedder("_nan_test", broken, fitted=False)
    with pytest.raises(UserError, match="embedder _nan_test produced 2 NaN/inf values"):
        embed(np.zeros((4, 2, 2, 1), np.uint8), np.arange(4), "_nan_test", "fp", tmp_path, 0)
    assert not list(tmp_path.rglob("*.npz"))  # nothing cached


def test_wrong_shapes_are_a_bug_not_a_user_error(register_embedder):
    register_embedder("_short_test", lambda images, fit_idx, seed: np.zeros((len(images) - 1, 2)), fitted=False)
    with pytest.raises(RuntimeError, match=r"embedder _short_test returned shape \(2, 2\) for 3 images"):
        embed(np.zeros((3, 2, 2, 1), np.uint8), np.arange(3), "_short_test", "fp", None, 0)
