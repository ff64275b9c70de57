"""Selection kernels: turn scores or features into picked indices. Pure; randomness is an argument.

- :mod:`.topk` — the highest scores, exact ties broken at random.
- :mod:`.distances` — nearest centers and pick distances by blocked BLAS, never N × N.
- :mod:`.kcenter` — greedy k-center, lazy by blocks, exact as a float64 brute force.
- :mod:`.kmeanspp` — k-means++ (D²) seeding by rejection, also on factored gradient embeddings.
- :mod:`.ranked_batch` — one greedy pass over (1 − w) · distance + w · uncertainty (Cardoso et al. 2017).
- :mod:`.checks` — the kernels' input checks, public for callers that check the same way.
"""

from .distances import nearest_center, pick_distances
from .kcenter import kcenter_greedy
from .kmeanspp import kmeans_pp, kmeans_pp_factored
from .ranked_batch import ranked_batch
from .topk import top_k

__all__ = ["top_k", "nearest_center", "pick_distances", "kcenter_greedy", "kmeans_pp", "kmeans_pp_factored",
           "ranked_batch"]
