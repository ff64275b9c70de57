"""Why ProbCover gains little on a small pool: the radius δ its purity rule picks, the purity at
each grid value, and how many balls at δ hold no other point (then every candidate covers only
itself and the greedy picks at random). Per seed, on the run's split and embedding.

    .venv/bin/python bench/probcover_delta.py dataset=npz dataset.path=../shared/datasets/cifar10_subset.npz \\
        embedder=kmeans_patches --seeds 2

Asserts nothing.
"""

from __future__ import annotations

import argparse

import numpy as np
from _setup import seed_data, settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of the run config (default digits / pixels)")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    from al_bench.data import load_dataset
    from al_bench.kernels.distances import unit_rows
    from al_bench.kernels.kmeans import kmeans
    from al_bench.strategies.probcover import DELTA_GRID, choose_delta, delta_graph, other_class_distance

    s = settings(args.overrides)
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    for seed in range(args.seeds):
        split, emb = seed_data(s, ds, seed)
        xn = unit_rows(emb.features[np.asarray(split.pool)])
        _, pseudo = kmeans(xn, len(ds.class_names), np.random.default_rng(seed), 20)
        r = other_class_distance(xn, pseudo)
        delta = choose_delta(r, 0.95)
        indptr, _, _ = delta_graph(xn, [delta], 10**9)
        degree = np.diff(indptr)
        # nearest other point: each row against the rest (a row is its own nearest at distance 0)
        nn = np.empty(len(xn))
        for i0 in range(0, len(xn), 1024):
            sim = xn[i0 : i0 + 1024] @ xn.T
            sim[np.arange(sim.shape[0]), np.arange(i0, i0 + sim.shape[0])] = -2.0
            nn[i0 : i0 + 1024] = np.sqrt(np.maximum(2.0 - 2.0 * sim.max(axis=1), 0.0))
        print(f"{ds.name} / {emb.embedder}, seed {seed}, pool {len(xn)}: purity by δ "
              + ", ".join(f"{g:.2f}: {(r >= g).mean():.3f}" for g in DELTA_GRID[:16]))
        print(f"  δ = {delta:.2f}; balls with no other point: {100 * (degree == 0).mean():.0f} %, mean other points "
              f"per ball {degree.mean():.2f}; nearest-neighbour distance 10/50/90 %: "
              + " / ".join(f"{q:.2f}" for q in np.quantile(nn, [0.1, 0.5, 0.9])))


if __name__ == "__main__":
    main()
