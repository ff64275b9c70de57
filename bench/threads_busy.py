"""Does ``threads=auto`` (all usable cores) degrade when the machine is busy?

One real run (``python -m al_bench``, digits/pixels, ``budget=smoke``, one strategy) is timed
under several background loads, with each thread setting interleaved within a repeat so that
every setting sees the same load. Spin-waiting OpenMP/BLAS threads on a core that another
process holds are the suspected cause of slow runs on busy machines; the passive wait policy
(``OMP_WAIT_POLICY=PASSIVE``, read when the OpenMP runtime loads) is measured beside the
default.

    .venv/bin/python bench/threads_busy.py                     # all loads, 3 repeats (~10 min)
    .venv/bin/python bench/threads_busy.py --loads idle spin1 --repeats 5 --strategy badge

Loads (background processes started before, stopped after each repeat):
  idle      nothing
  spin1     one pure-Python busy loop (one core taken)
  spin_all  one busy loop per usable core
  bursty    one process that spins 20 ms, sleeps 20 ms (a core taken half the time, in bursts)
  blas1     one process doing single-threaded float64 matrix products (a core and memory bandwidth)

The time reported is the run's own (``seconds`` in its status.json: data, embedding cache
read, rounds, writes), without interpreter start-up; the median, min and max over repeats, and
the ratio of each setting's median to ``threads=1``'s under the same load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = {
    "threads=1": (["threads=1"], {}),
    "threads=auto": (["threads=auto"], {}),
    "auto+passive": (["threads=auto"], {"OMP_WAIT_POLICY": "PASSIVE"}),
}


def _spin() -> None:
    while True:
        pass


def _bursty() -> None:
    while True:
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            pass
        time.sleep(0.02)


def _blas() -> None:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((600, 600))
    with threadpool_limits(1):
        while True:
            a = a @ a
            a /= np.abs(a).max()


LOADS = {
    "idle": [],
    "spin1": [_spin],
    "spin_all": None,  # one per core, filled in at start
    "bursty": [_bursty],
    "blas1": [_blas],
}


def _start(load: str) -> list[mp.Process]:
    targets = LOADS[load] if LOADS[load] is not None else [_spin] * len(os.sched_getaffinity(0))
    procs = [mp.Process(target=t, daemon=True) for t in targets]
    for p in procs:
        p.start()
    time.sleep(0.5 if procs else 0)  # let the load settle
    return procs


def _stop(procs: list[mp.Process]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.join()


def one_run(work: Path, strategy: str, seed: int, overrides: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(run seconds from status.json, wall seconds of the whole command) of one fresh run."""
    out = Path(tempfile.mkdtemp(dir=work))
    cmd = [sys.executable, "-m", "al_bench", "dataset=digits", "embedder=pixels", "budget=smoke",
           f"strategy={strategy}", f"seed={seed}", f"paths.outputs_dir={out}", f"paths.data_dir={work / 'data'}",
           *overrides]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=work, env={**os.environ, **env, "CI": "1"}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"run failed ({' '.join(cmd)}):\n{r.stderr[-2000:]}")
    status = json.loads(next(out.rglob("status.json")).read_text())
    return float(status["seconds"]), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", nargs="+", default=list(LOADS), choices=list(LOADS))
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--strategy", default="badge")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"usable cores: {cores}; strategy {args.strategy}; {args.repeats} repeats; "
          f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        one_run(work, args.strategy, 0, ["threads=1"], {})  # warm the embedding cache
        rows = []
        for load in args.loads:
            times: dict[str, list[float]] = {s: [] for s in args.settings}
            for rep in range(args.repeats):
                procs = _start(load)
                try:
                    for name in args.settings:
                        overrides, env = SETTINGS[name]
                        times[name].append(one_run(work, args.strategy, rep, overrides, env)[0])
                finally:
                    _stop(procs)
            base = statistics.median(times["threads=1"]) if "threads=1" in times else None
            for name, ts in times.items():
                med = statistics.median(ts)
                rows.append((load, name, med, min(ts), max(ts), med / base if base else float("nan")))
                print(f"{load:9s} {name:13s} median {med:6.2f} s  min {min(ts):6.2f}  max {max(ts):6.2f}  "
                      f"x threads=1: {rows[-1][-1]:.2f}", flush=True)
    print("\n| load | setting | median s | min s | max s | median / threads=1 |")
    print("|---|---|---|---|---|---|")
    for load, name, med, lo, hi, ratio in rows:
        print(f"| {load} | {name} | {med:.2f} | {lo:.2f} | {hi:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
