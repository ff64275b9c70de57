"""BALD against baal's ``BALD`` heuristic on identical inputs: the same scores and ranking, and
the time of each, measured in one run.

    .venv/bin/python bench/bald_ref.py --baal PATH [--n 50000] [--classes 10] [--samples 20] [--repeats 15]

PATH is a checkout of baal-org/baal (its ``baal/active/heuristics/heuristics.py`` and
``baal/utils/array_utils.py`` are imported from it at run time, unmodified; the package's
``__init__`` files, which import its training loop, are not run).

Inputs: K MC-dropout passes of the simulation's linear head (dropout 0.5 at prediction time)
on a 10-class Gaussian mixture in 384 dimensions, float32 as the strategy gets them. The
forward passes are made once, before any timing, and are **out of both timings**: what is timed
is scores + ranking from the (K, N, C) probabilities. baal takes them as [N, C, K] (its
layout; the transposed copy is made before timing, also out of its time) and its
``BALD()(predictions)`` returns the ranking (``compute_score`` then ``argsort``). Ours is
:func:`al_bench.scores.bald` then the top-n of :func:`al_bench.kernels.topk.top_k`, as the
strategy runs them, n = 1000 (the full ranking is also timed). Best of ``--repeats`` for each,
interleaved so machine noise hits both alike; the ratio is of the medians too.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch


def load_baal(root: Path):
    """baal's heuristics module from a checkout, with only the files it imports."""
    for name in ("baal", "baal.utils", "baal.active"):
        mod = types.ModuleType(name)
        mod.__path__ = [str(root / name.replace(".", "/"))]
        sys.modules[name] = mod

    def load(name: str, rel: str):
        spec = importlib.util.spec_from_file_location(name, root / rel)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    load("baal.utils.array_utils", "baal/utils/array_utils.py")
    return load("baal.active.heuristics.heuristics", "baal/active/heuristics/heuristics.py")


def mc_inputs(n: int, c: int, k: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """(K, N, C) float32: K dropout passes of a linear head trained on 500 items."""
    from al_bench.heads.linear import linear_head

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(c, d)) / np.sqrt(d)
    y = rng.integers(c, size=n)
    x = (centers[y] + rng.normal(size=(n, d)) / np.sqrt(d)).astype(np.float32)
    lab = rng.choice(n, 500, replace=False)
    head = linear_head(d, c, 0).fit(x[lab], y[lab])
    torch.manual_seed(seed)
    xt = torch.from_numpy(x)
    w, b = head.weight.detach(), head.bias.detach()
    passes = []
    with torch.no_grad():
        for _ in range(k):
            mask = (torch.rand_like(xt) > 0.5).float() * 2.0  # inverted dropout, p = 0.5
            passes.append(torch.softmax((xt * mask) @ w.T + b, dim=1).numpy())
    return np.stack(passes).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baal", type=Path, required=True, help="a checkout of baal-org/baal")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--picks", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args()

    from al_bench.kernels.topk import top_k
    from al_bench.scores import bald

    heur = load_baal(a.baal.expanduser())
    mc = mc_inputs(a.n, a.classes, a.samples)
    theirs_in = np.ascontiguousarray(mc.transpose(1, 2, 0))  # [N, C, K], baal's layout
    ref = heur.BALD()

    ours_scores = bald(mc)
    their_scores = ref.compute_score(theirs_in)
    diff = float(np.abs(ours_scores - their_scores).max())
    order_theirs = ref(theirs_in)
    top_ours = top_k(ours_scores, a.picks, np.random.default_rng(0))
    shared = len(set(top_ours.tolist()) & set(order_theirs[: a.picks].tolist()))
    print(f"inputs: (K, N, C) = {mc.shape} float32; forward passes out of both timings")
    print(f"scores: max |ours - baal| = {diff:.2e} (float32 inputs); top {a.picks}: {shared} shared")

    t_ours, t_rank, t_theirs = [], [], []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        top_k(bald(mc), a.picks, np.random.default_rng(0))
        t1 = time.perf_counter()
        np.argsort(-bald(mc), kind="stable")
        t2 = time.perf_counter()
        ref(theirs_in)
        t3 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_rank.append(t2 - t1)
        t_theirs.append(t3 - t2)
    best = {k: min(v) for k, v in (("ours", t_ours), ("rank", t_rank), ("theirs", t_theirs))}
    med = {k: float(np.median(v)) for k, v in (("ours", t_ours), ("rank", t_rank), ("theirs", t_theirs))}
    print(f"ours (bald + top {a.picks}): best {best['ours'] * 1e3:.1f} ms, median {med['ours'] * 1e3:.1f} ms")
    print(f"ours (bald + full ranking): best {best['rank'] * 1e3:.1f} ms, median {med['rank'] * 1e3:.1f} ms")
    print(f"baal BALD()(predictions) (scores + ranking): best {best['theirs'] * 1e3:.1f} ms, "
          f"median {med['theirs'] * 1e3:.1f} ms")
    print(f"ratio baal / ours: best {best['theirs'] / best['ours']:.1f}x, median {med['theirs'] / med['ours']:.1f}x "
          f"(full ranking: {best['theirs'] / best['rank']:.1f}x)")


if __name__ == "__main__":
    main()
