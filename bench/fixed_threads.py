"""What running the thread-count-sensitive steps on one thread (``al_bench.threads.single_threaded``)
costs, at a job's thread count (default 2): this checkout as it is ("after") against the same
code with ``single_threaded`` replaced by a no-op ("before"), interleaved in one process so both
see the same machine load. Also says whether each side gave the same bytes at 1 and 2 threads.

    .venv/bin/python bench/fixed_threads.py                 # all parts, 3 repeats (~3 minutes)
    .venv/bin/python bench/fixed_threads.py --parts fits bald --repeats 5

Parts:
  fits            the linear-head fits of a digits/pixels budget=smoke run's points: 65, 130, 259
                  labeled, d = 64 (the default 300 steps), summed
  fits384         the same sizes at d = 384 (DINOv2's and kmeans_patches' width)
  bald            bald_scores of a 48k x 384 pool, K = 20 passes
  kmeans_patches  the embedder's fit on the CIFAR-10 subset's first 4,576 images (default
                  options: 100k patches, 400 centroids, PCA to 384), whitening, k-means,
                  encoding and PCA

Medians over repeats, in seconds; the ratio is after / before. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "cifar10_subset.npz"


def _digest(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:12]


def _parts():
    from al_bench.heads.linear import LinearHead, LinearSettings

    rng = np.random.default_rng(0)

    def fits(d):
        x = rng.standard_normal((259, d)).astype(np.float32)
        y = rng.integers(0, 10, 259)

        def run():
            return _digest(np.concatenate([LinearHead(d, 10, LinearSettings(), 7).fit(x[:n], y[:n]).weight.numpy().ravel()
                                           for n in (65, 130, 259)]))
        return run

    xp = rng.standard_normal((48_000, 384)).astype(np.float32)
    yp = rng.integers(0, 10, 48_000)
    head = LinearHead(384, 10, LinearSettings(steps=30), 0).fit(xp[:500], yp[:500])

    def bald():
        return _digest(head.bald_scores(xp, 20, 5))

    def kmeans_patches():
        from al_bench.embedders.kmeans_patches import kmeans_patches as embed

        d = np.load(DATA)
        return _digest(embed(d["images"][:4576], np.arange(4576), 3))

    return {"fits": fits(64), "fits384": fits(384), "bald": bald, "kmeans_patches": kmeans_patches}


@contextlib.contextmanager
def _no_op(blas: bool = False):
    yield


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["fits", "fits384", "bald", "kmeans_patches"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import al_bench.embedders.kmeans_patches as kp
    import al_bench.embedders.pixels as px
    import al_bench.heads.linear as lin
    from al_bench.cli.run import pin_threads

    modules = (lin, kp, px)
    fixed = {m: m.single_threaded for m in modules}
    parts = _parts()
    print(f"threads={a.threads}, {a.repeats} repeat(s), interleaved")
    print("| part | before s | after s | after / before | before: same bytes at 1 and 2 threads | after: same |")
    print("|---|---|---|---|---|---|")
    for name in a.parts:
        times: dict[str, list[float]] = {"before": [], "after": []}
        digests: dict[str, dict[int, str]] = {"before": {}, "after": {}}
        for side in ("before", "after"):  # bytes at 1 and 2 threads, untimed
            for m in modules:
                m.single_threaded = _no_op if side == "before" else fixed[m]
            for n in (1, 2):
                pin_threads(n)
                digests[side][n] = parts[name]()
        pin_threads(a.threads)
        for _ in range(a.repeats):
            for side in ("before", "after"):
                for m in modules:
                    m.single_threaded = _no_op if side == "before" else fixed[m]
                t = time.perf_counter()
                parts[name]()
                times[side].append(time.perf_counter() - t)
        b, f = statistics.median(times["before"]), statistics.median(times["after"])
        same = {s: "yes" if digests[s][1] == digests[s][2] else "no" for s in digests}
        print(f"| {name} | {b:.3f} | {f:.3f} | {f / b:.2f} | {same['before']} | {same['after']} |", flush=True)
    for m in modules:
        m.single_threaded = fixed[m]


if __name__ == "__main__":
    main()
