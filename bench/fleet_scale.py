"""Fleet scale: picks from a float16 memory-mapped pool of 10^5 … 10^7 rows on one machine.

    python bench/fleet_scale.py make --pool /big/pool.npy --rows 10000000      # 7.7 GB at d = 384
    python bench/fleet_scale.py table --pool /big/pool.npy --rows 100000 1000000 10000000
    python bench/fleet_scale.py radius --pool /big/pool.npy --rows 1000000 --sample 100000 --seeds 0 1 2 3 4

``make`` writes a Gaussian mixture (2,000 clusters of unequal spread, d = 384, float16) as an
.npy, block by block; smaller pools are its leading rows (rows are drawn independently).

``table``: each (strategy, mode, rows) in a fresh process (``one``; al_bench's imports are made
before any timing), which reads the pool
memory-mapped exactly as ``al-bench-select --features`` does (:func:`al_bench.read_features`
minus the ids file: ids are the row numbers as strings) and picks 1,000 with no labeled set
(a first batch). Printed per run: the wall time of the pick (reading the ids and the
finiteness check listed apart) and the process's peak resident memory, file pages it mapped
included (``wait4``'s ru_maxrss).

``radius``: k-center's covering radius, max over every pool row of the distance to its nearest
pick, for the exact greedy and for the approximate mode (the greedy on ``--sample`` rows
drawn uniformly), over seeds: the ratio approximate / exact, and both times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

D = 384
CLUSTERS = 2000
BLOCK = 250_000


def make(pool: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(CLUSTERS, D)).astype(np.float32)
    spread = rng.uniform(0.2, 1.0, CLUSTERS).astype(np.float32)  # unequal cluster widths
    weight = rng.dirichlet(np.full(CLUSTERS, 0.5))  # unequal cluster sizes (a long tail of rare ones)
    out = np.lib.format.open_memmap(pool, mode="w+", dtype=np.float16, shape=(rows, D))
    t0 = time.perf_counter()
    for lo in range(0, rows, BLOCK):
        n = min(BLOCK, rows - lo)
        c = rng.choice(CLUSTERS, size=n, p=weight)
        block = centers[c] + spread[c, None] * rng.standard_normal((n, D), dtype=np.float32)
        out[lo : lo + n] = block.astype(np.float16)
        if (lo // BLOCK) % 8 == 0:
            print(f"make: {lo + n:,} / {rows:,} rows, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.flush()
    del out
    print(f"make: wrote {pool} ({os.path.getsize(pool) / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")


def _pool(pool: Path, rows: int) -> np.ndarray:
    x = np.load(pool, mmap_mode="r")
    if rows > len(x):
        sys.exit(f"{pool} has {len(x):,} rows, fewer than {rows:,}")
    return x[:rows]  # a memory map of the leading rows (C-contiguous)


def one(pool: Path, rows: int, strategy: str, n: int, sample: int | None, seed: int, picks_out: Path | None) -> None:
    """One pick in this process; prints a JSON line."""
    import al_bench
    from al_bench.picking.features_file import _check_finite

    al_bench.select(["a", "b", "c"], np.eye(3, dtype=np.float32), 1, strategy=strategy)  # imports, outside the timing
    t0 = time.perf_counter()
    x = _pool(pool, rows)
    ids = [str(i) for i in range(rows)]
    _check_finite(ids, x, "pool")  # what read_features does: one read of the file
    t1 = time.perf_counter()
    sel = al_bench.select(ids, x, n, strategy=strategy, rng=seed, sample=sample)
    t2 = time.perf_counter()
    if picks_out is not None:
        np.save(picks_out, np.asarray(sel.positions, np.int64))
    print(json.dumps({"strategy": strategy, "rows": rows, "n": n, "sample": sample, "seed": seed,
                      "read_s": round(t1 - t0, 2), "pick_s": round(t2 - t1, 2), "picked": len(sel)}), flush=True)


def _child(args: list[str]) -> tuple[dict, float]:
    """Run ``one`` in a fresh process: (its JSON line, its peak resident memory in GB)."""
    cmd = [sys.executable, __file__, "one", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "cmd": " ".join(cmd)}, usage.ru_maxrss / 2**20
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 2**20  # ru_maxrss: KiB on Linux


def table(pool: Path, rows: list[int], runs: list[str], n: int) -> None:
    print("| strategy | mode | rows | read + check (s) | pick (s) | peak RSS (GB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for spec in runs:
            strategy, _, sample = spec.partition("@")
            args = [str(pool), str(r), strategy, str(n), "--seed", "0"]
            if sample:
                if int(sample) >= r:
                    continue
                args += ["--sample", sample]
            res, rss = _child(args)
            mode = f"sample {int(sample):,}" if sample else "exact"
            if "error" in res:
                print(f"| {strategy} | {mode} | {r:,} | {res['error']} | | {rss:.2f} |", flush=True)
            else:
                print(f"| {strategy} | {mode} | {r:,} | {res['read_s']} | {res['pick_s']} | {rss:.2f} |", flush=True)


def covering_radius(x: np.ndarray, centers: np.ndarray) -> float:
    from al_bench.kernels.distances import nearest_center

    d, _ = nearest_center(x, np.asarray(centers, np.float32))
    return float(np.sqrt(d.max()))


def radius(pool: Path, rows: int, sample: int, seeds: list[int], n: int, tmp: Path) -> None:
    x = _pool(pool, rows)
    tmp.mkdir(parents=True, exist_ok=True)
    res, rss = _child([str(pool), str(rows), "kcenter", str(n), "--seed", "0", "--picks-out", str(tmp / "exact.npy")])
    exact_r = covering_radius(x, x[np.sort(np.load(tmp / "exact.npy"))])
    print(f"exact greedy: {res['pick_s']} s, peak {rss:.2f} GB, covering radius {exact_r:.4f}")
    ratios = []
    for s in seeds:
        a, arss = _child([str(pool), str(rows), "kcenter", str(n), "--seed", str(s), "--sample", str(sample),
                          "--picks-out", str(tmp / f"s{s}.npy")])
        r = covering_radius(x, x[np.sort(np.load(tmp / f"s{s}.npy"))])
        ratios.append(r / exact_r)
        print(f"sample {sample:,}, seed {s}: {a['pick_s']} s, peak {arss:.2f} GB, radius {r:.4f}, ratio {r / exact_r:.3f}",
              flush=True)
    q = np.asarray(ratios)
    std = q.std(ddof=1) if q.size > 1 else 0.0
    print(f"ratio over {q.size} seeds: mean {q.mean():.3f}, min {q.min():.3f}, max {q.max():.3f}, std {std:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--pool", type=Path, required=True)
    m.add_argument("--rows", type=int, default=10_000_000)
    o = sub.add_parser("one")
    o.add_argument("pool", type=Path)
    o.add_argument("rows", type=int)
    o.add_argument("strategy")
    o.add_argument("n", type=int)
    o.add_argument("--sample", type=int, default=None)
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--picks-out", type=Path, default=None)
    t = sub.add_parser("table")
    t.add_argument("--pool", type=Path, required=True)
    t.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    t.add_argument("--runs", nargs="+", default=["random", "kcenter", "kcenter@100000", "kmeans_centroids@100000",
                                                  "typiclust@100000"],
                   help="strategy, or strategy@SAMPLE for the approximate mode")
    t.add_argument("-n", type=int, default=1000)
    r = sub.add_parser("radius")
    r.add_argument("--pool", type=Path, required=True)
    r.add_argument("--rows", type=int, default=1_000_000)
    r.add_argument("--sample", type=int, default=100_000)
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    r.add_argument("-n", type=int, default=1000)
    r.add_argument("--tmp", type=Path, default=Path("/tmp/al_bench_fleet"))
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.pool, a.rows)
    elif a.cmd == "one":
        one(a.pool, a.rows, a.strategy, a.n, a.sample, a.seed, a.picks_out)
    elif a.cmd == "table":
        table(a.pool, a.rows, a.runs, a.n)
    else:
        radius(a.pool, a.rows, a.sample, a.seeds, a.n, a.tmp)


if __name__ == "__main__":
    main()
