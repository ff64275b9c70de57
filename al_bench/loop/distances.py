"""The labeled set's nearest-neighbour distances, kept up to date as labels are bought."""

from __future__ import annotations

import numpy as np

from ..kernels.distances import nearest_center

__all__ = ["LabeledDistance"]


class LabeledDistance:
    """Squared distance of every pool item to its nearest labeled item, updated as labels come.

    Each update searches only the newly labeled items (N × batch × d), so strategies that seed
    from the labeled set (k-center, hybrid) do not redo an N × L search every round.
    """

    def __init__(self, x_pool: np.ndarray, labeled: list[int]) -> None:
        self.x = x_pool
        self.labeled = labeled  # the loop's purchase list (read, never written here)
        self.d: np.ndarray | None = None
        self.near: np.ndarray | None = None
        self.done = 0  # how many of ``labeled`` the distances cover

    def state(self) -> dict:
        """What a checkpoint needs to continue with the same distances."""
        return {"dist_d": self.d, "dist_near": self.near, "dist_done": self.done}

    def restore(self, d: np.ndarray | None, near: np.ndarray | None, done: int) -> None:
        self.done = int(done)
        self.d = None if d is None or d.size == 0 else d.copy()
        self.near = None if near is None or near.size == 0 else near.copy()
        if self.d is None:
            self.done = 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        """(d (P,) float32, near (P,) int64), brought up to date with the labels bought since."""
        new = np.asarray(self.labeled[self.done :], np.int64)
        if new.size:
            d, j = nearest_center(self.x, self.x[new])
            if self.d is None:
                self.d, self.near = d, new[j]
            else:
                better = d < self.d
                self.d[better] = d[better]
                self.near[better] = new[j[better]]
            self.done = len(self.labeled)
        return self.d, self.near
