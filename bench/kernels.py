"""Benchmark of the selection kernels on synthetic float32 data. Prints a table; asserts nothing.

    .venv/bin/python bench/kernels.py            # N = 10k and 50k
    .venv/bin/python bench/kernels.py --large    # also N = 1M (minutes, GBs of memory)

Each cell is the median of 3 timed calls (wall seconds) and the peak extra resident memory of
the call (MB). Data: d = 384, C = 10, 1,000 picks, 100 labeled points seeding k-center;
"gaussian" is N(0, I), "clustered" is 50 tight Gaussian clusters. Results so far, with the
commands that produced them: bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from al_bench import scores
from al_bench.heads import softmax
from al_bench.heads.linear import LinearHead, LinearSettings
from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.kernels.kmeanspp import kmeans_pp_factored
from al_bench.loop.memory import PeakMemory
from al_bench.strategies import PoolView, select_batch

D, C, PICKS, LABELED, K_MC = 384, 10, 1000, 100, 20
TARGETS = {  # seconds at 50k, at 1M
    "kcenter_greedy": ("3.0 s", "60 s"),
    "badge_kmeans_pp": ("3.0 s", "75 s"),
    "bald_scores": ("0.015 s", "-"),
    "mc_dropout_20": ("0.3 s", "chunked, <= 64 MB extra"),
    "hybrid_k1000": ("0.1 s", "-"),
    # the MC passes with BALD fused in, chunk by chunk, as the bald strategy runs them
    "mc_bald_fused_20": ("-", "chunked, <= 64 MB extra"),
}


def make_data(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        return rng.standard_normal((n, D), dtype=np.float32)
    centers = rng.normal(0, 4, (50, D)).astype(np.float32)
    return centers[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, D), dtype=np.float32)


class _Fixed:
    """Model outputs from fixed logits, for the hybrid strategy's view."""

    def __init__(self, probs):
        self.p = probs

    def probs(self, pos):
        return self.p[pos]


def timed(fn, repeats: int = 3) -> tuple[float, float]:
    # OpenBLAS worker threads spin for a while after their last call; on few cores they would
    # take one from the next kernel and slow it (bench/README.md has the measurement)
    time.sleep(0.5)
    times, mems = [], []
    for _ in range(repeats):
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        mems.append(mem.mb)
    return statistics.median(times), max(mems)


def bench(kind: str, n: int, rng: np.random.Generator, kernels: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    x = make_data(kind, n, rng)
    labeled = rng.choice(n, LABELED, replace=False)
    logits = rng.normal(0, 2, (n, C))
    probs = softmax(logits)
    a = probs.astype(np.float32)
    a[np.arange(n), probs.argmax(1)] -= 1.0
    xb = np.concatenate([x, np.ones((n, 1), np.float32)], axis=1)
    head = LinearHead(D, C, LinearSettings(dropout=0.1), seed=0)
    head.weight = torch.as_tensor(0.01 * rng.standard_normal((C, D), dtype=np.float32))
    mc = head.sample_proba(x, K_MC, seed=0) if "bald_scores" in kernels else None
    unl = np.setdiff1d(np.arange(n), labeled)
    view = PoolView(x, labeled, unl, C, 3, _Fixed(probs))
    calls = {
        "kcenter_greedy": lambda: kcenter_greedy(x, labeled, PICKS),
        "badge_kmeans_pp": lambda: kmeans_pp_factored(a, xb, PICKS, np.random.default_rng(0)),
        "bald_scores": lambda: scores.bald(mc),
        "mc_dropout_20": lambda: head.sample_proba(x, K_MC, seed=1),
        "mc_bald_fused_20": lambda: head.bald_scores(x, K_MC, seed=1),
        "hybrid_k1000": lambda: select_batch("hybrid", view, PICKS, np.random.default_rng(0), 0.1,
                                             {"shortlist_factor": 2.0, "cold_rounds": 1}),
    }
    return {k: timed(calls[k], repeats) for k in kernels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", action="store_true", help="also run N = 1,000,000")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="override the N values")
    ap.add_argument("--kernels", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per cell (the median is shown)")
    args = ap.parse_args()
    sizes = args.sizes or ([10_000, 50_000] + ([1_000_000] if args.large else []))
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for kind in ("gaussian", "clustered"):
            for kernel, (sec, mb) in bench(kind, n, rng, args.kernels, args.repeats).items():
                rows.append((kernel, kind, n, sec, mb))
                print(f"  {kernel:<16} {kind:<9} N={n:>9,}  {sec:8.3f} s  {mb:8.1f} MB", flush=True)
    print("\n| kernel | data | N | median s | peak extra MB | target 50k | target 1M |")
    print("|---|---|---|---|---|---|---|")
    for kernel, kind, n, sec, mb in rows:
        t50, t1m = TARGETS[kernel]
        print(f"| {kernel} | {kind} | {n:,} | {sec:.3f} | {mb:.1f} | {t50} | {t1m} |")


if __name__ == "__main__":
    main()
