"""The folder scan (walk + decode check + brightness) on a million small generated JPEGs.

    python bench/scan_million.py make --root /big/jpegs --files 1000000
    python bench/scan_million.py scan --root /big/jpegs [--serial-sample 50000]

``make`` writes 24 × 24 JPEGs of noise in 1,000 folders (in processes, one per core).
``scan`` times :func:`al_bench.picking.folder.scan_folder` with an empty scan cache (every file
decoded: in a process per core), then again with the cache it wrote (stats only), and the serial
decode of ``--serial-sample`` files (the loop the scan ran before, extrapolated to all files).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _make_part(root: str, lo: int, hi: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(lo)
    for i in range(lo, hi):
        d = Path(root) / f"{i // 1000:04d}"
        d.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(d / f"{i:07d}.jpg", quality=80)


def make(root: Path, files: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    step = 20_000
    with ProcessPoolExecutor(os.cpu_count() or 1) as ex:
        list(ex.map(_make_part, [str(root)] * len(range(0, files, step)), range(0, files, step),
                    [min(files, s + step) for s in range(0, files, step)]))
    print(f"make: {files:,} JPEGs under {root} in {time.perf_counter() - t0:.0f} s")


def scan(root: Path, serial_sample: int) -> None:
    from al_bench.data.images import inspect_image
    from al_bench.picking.folder import find_images, scan_folder

    cache = Path(tempfile.mkdtemp(prefix="scan_cache_"))
    t0 = time.perf_counter()
    found = find_images(root, [], lambda s: None)[1]
    t1 = time.perf_counter()
    print(f"walk: {len(found):,} files in {t1 - t0:.1f} s")
    s = scan_folder(root, cache, progress=False)
    t2 = time.perf_counter()
    print(f"scan, empty cache (walk + decode check in {os.cpu_count()} processes): {t2 - t1:.1f} s, "
          f"{len(s.good):,} readable")
    again = scan_folder(root, cache, progress=False)
    t3 = time.perf_counter()
    print(f"scan again (cache: stats only): {t3 - t2:.1f} s, {again.n_cached:,} from the cache")
    pick = np.linspace(0, len(found) - 1, min(serial_sample, len(found))).astype(int)
    t4 = time.perf_counter()
    for i in pick:
        inspect_image(root / found[i])
    per = (time.perf_counter() - t4) / pick.size
    print(f"serial decode check: {per * 1e6:.0f} us per file on one core -> {per * len(found):.0f} s for all "
          f"{len(found):,} (the loop before parallelizing)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--root", type=Path, required=True)
    m.add_argument("--files", type=int, default=1_000_000)
    s = sub.add_parser("scan")
    s.add_argument("--root", type=Path, required=True)
    s.add_argument("--serial-sample", type=int, default=50_000)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.root, a.files)
    else:
        scan(a.root, a.serial_sample)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
