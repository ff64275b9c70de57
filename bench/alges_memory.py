"""Time and memory of one ALGES embedding on a synthetic 512 × 512 image. Prints numbers; asserts nothing.

    .venv/bin/python bench/alges_memory.py                    # C = 19, D = 256, chunk 65,536
    .venv/bin/python bench/alges_memory.py --chunk 16384 --size 256

Inputs: softmax of N(0, 2²) logits (C, H, W) and ReLU'd N(0, 1) features (D, H, W), float32,
made before any measurement. For each variant: the peak extra resident memory of its first call
(al_bench.loop.memory.PeakMemory: every allocator; later calls reuse memory the allocator kept,
so the image variant's first call also warms up), the peak of numpy's allocations during one
call (tracemalloc: what the call itself allocates, BLAS scratch excluded) and the median and
minimum wall time of ``--repeats`` calls. Next to them, the arithmetic of :func:`al_bench.segmentation.alges.alges_bytes`.
Results with the commands that produced them: bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from al_bench.loop.memory import PeakMemory
from al_bench.segmentation.alges import alges_bytes, alges_embedding


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="H = W of the image")
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--features", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    H = W = args.size
    C, D = args.classes, args.features
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (C, H, W)).astype(np.float32)
    z -= z.max(0)
    np.exp(z, out=z)
    z /= z.sum(0)
    probs = z
    feats = np.maximum(rng.standard_normal((D, H, W), dtype=np.float32), 0)
    MB = 1e6
    print(f"image {H}x{W}, C={C}, D={D}, chunk={args.chunk}; inputs {probs.nbytes / MB:.1f} MB probs "
          f"+ {feats.nbytes / MB:.1f} MB feats (float32)")
    arith = alges_bytes(H, W, C, D, chunk=args.chunk)
    print(f"arithmetic: naive per-pixel gradients {arith['naive'] / MB:,.1f} MB; factorized working set "
          f"image {arith['image'] / MB:.1f} MB, semantic {arith['semantic'] / MB:.1f} MB")
    print(f"{'variant':<10}{'median s':>10}{'min s':>9}{'tracemalloc peak MB':>22}{'RSS peak extra MB':>20}")
    rss = {}
    for variant in ("image", "semantic"):  # first calls: freed memory not yet kept by the allocator
        with PeakMemory() as mem:
            alges_embedding(probs, feats, variant, chunk=args.chunk)
        rss[variant] = mem.mb
    for variant in ("image", "semantic"):
        tracemalloc.start()
        alges_embedding(probs, feats, variant, chunk=args.chunk)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            alges_embedding(probs, feats, variant, chunk=args.chunk)
            times.append(time.perf_counter() - t0)
        print(f"{variant:<10}{statistics.median(times):>10.3f}{min(times):>9.3f}{traced / MB:>22.1f}{rss[variant]:>20.1f}")


if __name__ == "__main__":
    main()
