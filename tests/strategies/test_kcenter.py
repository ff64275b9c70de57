"""kcenter: seeded by the loop's incremental labeled distances, it picks the float64 brute-force order."""

import numpy as np
import pytest

from al_bench.kernels import kcenter as kcenter_kernel
from al_bench.kernels.distances import nearest_center
from al_bench.loop import LabeledDistance
from al_bench.strategies import PoolView, select_batch
from support import brute_kcenter


@pytest.mark.parametrize("path", ["dense", "lazy"])
def test_kcenter_from_the_loops_incremental_distances_matches_brute_force(path, monkeypatch):
    """The loop keeps each item's distance to the labeled set up to date across rounds; the
    strategy seeds from it. Both the dense and the lazy kernel path (the lazy one reads the
    distances) are forced, whatever the pool size, through the kernel's threshold."""
    monkeypatch.setattr(kcenter_kernel, "_DENSE", 1 << 30 if path == "dense" else 0)
    rng = np.random.default_rng(4)
    centers = rng.normal(0, 10, (6, 8))
    x = (centers[rng.integers(0, 6, 800)] + rng.normal(0, 0.5, (800, 8))).astype(np.float32)
    order = rng.permutation(800)[:120].tolist()
    bought: list[int] = []
    ld = LabeledDistance(x, bought)
    for stop in (10, 50, 120):  # three rounds of purchases
        bought.extend(order[len(bought) : stop])
        d, near = ld()
    lab = np.array(order)
    fresh_d, _ = nearest_center(x, x[lab])
    np.testing.assert_allclose(d, fresh_d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(((x - x[near]) ** 2).sum(1), fresh_d, rtol=1e-4, atol=1e-4)
    view = PoolView(x, lab, np.setdiff1d(np.arange(800), lab), 6, 0, distances=ld)
    picks, _ = select_batch("kcenter", view, 50, np.random.default_rng(0))
    assert picks.tolist() == brute_kcenter(x, lab, 50)
