"""Benchmark of ProbCover's parts at pool scale: the purity search for δ, the sparse δ-ball graph
(pairs, memory) and the greedy cover. Prints numbers; asserts nothing.

    .venv/bin/python bench/probcover.py                         # N = 50k, d = 384
    .venv/bin/python bench/probcover.py --n 10000 --deltas 0.4 0.6 0.8
    .venv/bin/python bench/probcover.py --cifar                 # the CIFAR subset's kmeans_patches features

Synthetic data ("modes"): 10 classes, each a mixture of 20 modes around its class direction, with
isotropic noise; after the strategy's L2 normalization points of one mode are about 0.45 apart,
of two modes of a class about 0.75 and of two classes about 1.4 — roughly the geometry of
self-supervised features, where ProbCover's balls hold tens to hundreds of points. ``--deltas``
builds the graph at fixed radii too, to show how pairs and memory grow with δ. Each line: wall
seconds and the peak extra resident memory of that step (MB). ``--cifar`` embeds the subset with
kmeans_patches (reduced as in bench/golden.py) instead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from al_bench.loop.memory import PeakMemory
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.probcover import DELTA_GRID, choose_delta, delta_graph, greedy_cover, other_class_distance, unit_rows


def modes(n: int, d: int, rng: np.random.Generator, classes: int = 10, per_class: int = 20) -> np.ndarray:
    class_dir = rng.standard_normal((classes, d), dtype=np.float32)
    class_dir /= np.linalg.norm(class_dir, axis=1, keepdims=True)
    offsets = rng.standard_normal((classes, per_class, d), dtype=np.float32)
    offsets *= 0.5 / np.linalg.norm(offsets, axis=2, keepdims=True)
    c = rng.integers(0, classes, n)
    m = rng.integers(0, per_class, n)
    return class_dir[c] + offsets[c, m] + (0.02 * rng.standard_normal((n, d), dtype=np.float32))


def cifar_features() -> np.ndarray:
    from pathlib import Path

    from al_bench.embedders import embed

    z = np.load(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar10_subset.npz")
    images = z["images"]
    emb = embed(images, np.arange(len(images)), "kmeans_patches", "bench-probcover-cifar", Path("/tmp/al_bench_bench"),
                0, centroids=100, n_patches=20000)
    return emb.features


def step(label: str, fn):
    time.sleep(0.5)  # let BLAS threads of the previous step go idle
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        out = fn()
        sec = time.perf_counter() - t0
    print(f"  {label:<44} {sec:8.2f} s  {mem.mb:8.1f} MB", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--picks", type=int, default=500, help="greedy picks (default: 1 %% of 50k)")
    ap.add_argument("--labeled", type=int, default=100, help="labeled points whose balls start covered")
    ap.add_argument("--deltas", type=float, nargs="*", default=[0.5, 0.7, 0.9], help="also build the graph at these δ")
    ap.add_argument("--max-edges", type=int, default=None, help="the cap (default: the strategy's)")
    ap.add_argument("--cifar", action="store_true", help="the CIFAR subset's kmeans_patches features instead")
    args = ap.parse_args()
    from al_bench.strategies import strategy_params

    cap = args.max_edges or strategy_params("probcover")["max_edges"]
    rng = np.random.default_rng(0)
    x = cifar_features() if args.cifar else modes(args.n, args.d, rng)
    n = len(x)
    print(f"data: {'CIFAR subset, kmeans_patches' if args.cifar else 'modes'}, N = {n:,}, d = {x.shape[1]}; "
          f"max_edges = {cap:,}")
    from al_bench.kernels.kmeans import kmeans

    xn = step("unit rows", lambda: unit_rows(x))
    _, labels = step("k-means pseudo-labels (k = 10)", lambda: kmeans(xn, 10, np.random.default_rng(0)))
    r = step("purity pass (nearest other pseudo-class)", lambda: other_class_distance(xn, labels))
    print("  purity by δ: " + ", ".join(f"{g:.2f}: {(r >= g).mean():.3f}" for g in DELTA_GRID))
    delta = choose_delta(r, 0.95)
    print(f"  δ by the purity rule (95 %): {delta:.2f}")
    labeled = rng.choice(n, args.labeled, replace=False)
    unlabeled = np.setdiff1d(np.arange(n), labeled)
    for dl in [delta] + [v for v in args.deltas if v != delta]:
        indptr, indices, used = step(f"graph at δ = {dl:.2f}", lambda dl=dl: delta_graph(xn, [dl] + [g for g in DELTA_GRID
                                                                                                   if g < dl], cap))
        pairs = len(indices) // 2
        csr_mb = (indices.nbytes + indptr.nbytes) / 2**20
        print(f"    δ used {used:.2f}: {pairs:,} pairs, mean ball {1 + len(indices) / n:.1f} points, "
              f"CSR {csr_mb:.1f} MB")
        picks, scores = step(f"greedy cover, {args.picks} picks", lambda ip=indptr, ix=indices: greedy_cover(
            ip, ix, labeled, unlabeled, args.picks, np.random.default_rng(0)))
        covered = int(scores.sum())
        print(f"    first picks cover {scores[:5].astype(int).tolist()}; {covered:,} newly covered "
              f"({(scores > 0).sum()} picks before full coverage)")
        del indptr, indices
    view = PoolView(x, labeled, unlabeled, 10, 0)
    step(f"the strategy, end to end ({args.picks} picks)",
         lambda: select_batch("probcover", view, args.picks, np.random.default_rng(0)))


if __name__ == "__main__":
    main()
