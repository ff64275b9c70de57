"""Selectors: turn scores or features into picked indices (public API; the code lives in :mod:`al_bench.kernels`)."""

from .kernels.distances import nearest_center
from .kernels.kcenter import kcenter_greedy
from .kernels.kmeanspp import kmeans_pp, kmeans_pp_factored
from .kernels.topk import top_k

__all__ = ["top_k", "kcenter_greedy", "kmeans_pp", "kmeans_pp_factored", "nearest_center"]
