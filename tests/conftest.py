import sys

# Bytecode caches for the test modules (pytest's assertion rewrites) and the package, even where
# PYTHONDONTWRITEBYTECODE is set: without them every run rewrites and compiles ~230 modules
# again, 6-7 s of the default tier (bench/README.md). The caches go to the gitignored __pycache__.
sys.dont_write_bytecode = False

import numpy as np
import pytest

from al_bench.data import make_split
from al_bench.loop import ModelOracle, default_head


@pytest.fixture
def blobs():
    """Three Gaussian classes in 8-D, 300 items: (features float32, labels int64)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 8))
    y = rng.permutation(np.repeat(np.arange(3), 100))
    x = (centers[y] + rng.normal(size=(300, 8))).astype(np.float32)
    return x, y


@pytest.fixture
def head_cache(blobs):
    """A real model oracle over the blobs' pool, with 15 items labeled: (oracle, x_pool, labeled)."""
    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    cache = ModelOracle(x[split.pool], y[split.pool], x[split.calibration], y[split.calibration], 3,
                        default_head, seed=0)
    labeled = np.arange(0, 150, 10)
    cache.update(labeled)
    return cache, x[split.pool], labeled
