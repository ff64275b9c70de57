"""Seconds per linear-head fit (the default 300 steps, input dropout, minibatches of 512) at
several training-set sizes, for this checkout and optionally a baseline commit, interleaved in
one run so the two see the same machine load. Also checks that both fit the same weights.

    .venv/bin/python bench/fit_speed.py                        # this checkout only
    .venv/bin/python bench/fit_speed.py --baseline a877f7c     # against a commit (a temporary git worktree)

Each measurement is a fresh subprocess with one thread: ``--repeats`` fits per size, the median
reported. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, sys, time, hashlib
import numpy as np, torch
torch.set_num_threads(1)
from al_bench.heads.linear import LinearHead, LinearSettings
sizes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
out = {}
for n in sizes:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 384)).astype(np.float32); y = rng.integers(0, 10, n)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); h = LinearHead(384, 10, LinearSettings(), 0).fit(x, y); times.append(time.perf_counter() - t)
    out[n] = [sorted(times)[len(times) // 2], hashlib.sha256(h.weight.numpy().tobytes()).hexdigest()[:16]]
print(json.dumps(out))
"""


def measure(path: Path, sizes: list[int], repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(sizes), str(repeats)], env=env, cwd=path,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5000, 24000, 48000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of baseline and this checkout")
    args = ap.parse_args()
    sides = {"this checkout": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            base = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
                           check=True, capture_output=True)
            sides = {f"baseline {args.baseline}": base, **sides}
        try:
            results: dict[str, list[dict]] = {k: [] for k in sides}
            for _ in range(args.rounds):
                for name, path in sides.items():
                    results[name].append(measure(path, args.sizes, args.repeats))
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print("| rows | " + " | ".join(f"{k} s" for k in sides) + (" | ratio | same weights |" if len(sides) > 1 else " |"))
    print("|---|" + "---|" * (len(sides) + (2 if len(sides) > 1 else 0)))
    for n in args.sizes:
        best = {k: min(r[str(n)][0] for r in v) for k, v in results.items()}
        cells = [f"{best[k]:.3f}" for k in sides]
        if len(sides) > 1:
            a, b = list(sides)
            cells += [f"{best[a] / best[b]:.2f}x", "yes" if results[a][0][str(n)][1] == results[b][0][str(n)][1] else "NO"]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
