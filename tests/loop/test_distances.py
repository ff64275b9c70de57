"""LabeledDistance: incremental nearest-labeled distances equal a fresh search, also after a restore."""

import numpy as np

from al_bench.kernels.distances import nearest_center
from al_bench.loop import LabeledDistance


def test_incremental_distances_equal_a_fresh_search_and_survive_a_restore():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)).astype(np.float32)
    order = rng.permutation(500)[:90].tolist()
    bought: list[int] = []
    ld = LabeledDistance(x, bought)
    for stop in (5, 40):
        bought.extend(order[len(bought):stop])
        ld()
    saved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in ld.state().items()}
    bought.extend(order[40:])
    d, near = ld()
    fresh, _ = nearest_center(x, x[np.array(order)])
    np.testing.assert_allclose(d, fresh, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.isin(near, order), True)
    # a restored state (as from a checkpoint after 40 labels) catches up to the same distances
    again = LabeledDistance(x, list(order))
    again.restore(saved["dist_d"], saved["dist_near"], saved["dist_done"])
    d2, near2 = again()
    np.testing.assert_array_equal(d2, d)
    np.testing.assert_array_equal(near2, near)
