"""Every segmentation recipe of ``al-bench-select --task segmentation --model`` as a new user
runs it: a folder of generated street-like images and a random-weight torchvision model file.

    .venv/bin/python bench/segmentation_recipes.py [--images 200] [--n 20] [--size 256x512] [--out DIR]

Each command runs in its own process (wall time and that process's peak resident memory,
``ru_maxrss``). First the model runs on every image once per provider configuration the
recipes need (no ALGES, ALGES image, ALGES semantic; cold cache), then each recipe picks with
the model's outputs and the embedding cached, so its line is the selection's own cost plus
reading the caches and writing the hand-off. The mosaics are left in ``--out`` to look at.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RUNNER = """
import resource, sys, json
from al_bench.cli.select import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

RECIPES = [("uncertainty", []), ("kcenter", []), ("hybrid", []), ("alges", []), ("alges", ["--param", "variant=semantic"]),
           ("alges_coreset", []), ("uncertainty_coreset", [])]


def street_images(folder: Path, n: int, h: int, w: int, seed: int = 0) -> None:
    """Sky, road, lane marking and boxes (buildings, cars) in random colours and places."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(90, 200, 3)))
        d = ImageDraw.Draw(img)
        horizon = int(rng.integers(h * 2 // 5, h * 3 // 5))
        d.rectangle([0, horizon, w, h], fill=tuple(int(v) for v in rng.integers(40, 90, 3)))
        for _ in range(int(rng.integers(1, 7))):
            x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(h // 10, horizon))
            bw, bh = int(rng.integers(w // 25, w // 4)), int(rng.integers(h // 12, h // 2))
            d.rectangle([x0, y0, x0 + bw, min(h, y0 + bh)], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        d.line([(w // 2, h), (w // 2 + int(rng.integers(-w // 6, w // 6)), horizon)], fill=(230, 230, 230), width=4)
        img.save(folder / f"street_{i:03d}.png")


def run(args: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    try:
        info = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"failed: {' '.join(args)}\n{p.stdout}\n{p.stderr}") from None
    if info["rc"] != 0:
        raise SystemExit(f"exit {info['rc']}: {' '.join(args)}\n{p.stderr}")
    return wall, info


def main() -> None:
    import torch
    import torchvision

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", default="256x512", help="HxW of the generated images")
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--out", type=Path, default=None, help="where the mosaics go (default: a temporary folder)")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="segbench-"))
    out = args.out or work / "selections"
    street_images(work / "streets", args.images, h, w)
    torch.manual_seed(0)
    net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                    num_classes=args.classes)
    torch.save(net.state_dict(), work / "lraspp.pt")
    print(f"{args.images} images {h}x{w} in {work / 'streets'}; model lraspp_mobilenet_v3_large (random weights, "
          f"{args.classes} classes, {(work / 'lraspp.pt').stat().st_size / 2**20:.1f} MB); n = {args.n}")
    base = ["--images-dir", str(work / "streets"), "-n", str(args.n), "--task", "segmentation", "--model",
            str(work / "lraspp.pt"), "--arch", "lraspp_mobilenet_v3_large", "--embedder", "kmeans_patches",
            "--cache-dir", str(work / "cache"), "--quiet"]
    print("cold (the model runs on every image; the first also embeds):")
    for label, extra in (("provider, no ALGES (uncertainty)", ["--strategy", "uncertainty"]),
                         ("provider + ALGES image", ["--strategy", "alges"]),
                         ("provider + ALGES semantic", ["--strategy", "alges", "--param", "variant=semantic"]),
                         ("embedding (kmeans_patches) + kcenter", ["--strategy", "kcenter"])):
        wall, info = run([*base, *extra, "--out", str(work / "warmup")])
        print(f"  {label:40s} wall {wall:7.1f} s   peak RSS {info['maxrss_mb']:7.0f} MB")
    print("each recipe, model outputs and embedding cached:")
    for strategy, extra in RECIPES:
        name = strategy + ("_semantic" if extra else "")
        wall, info = run([*base, "--strategy", strategy, *extra, "--out", str(out / name)])
        print(f"  {name:40s} wall {wall:7.1f} s   peak RSS {info['maxrss_mb']:7.0f} MB   -> {out / name / 'mosaic.png'}")


if __name__ == "__main__":
    main()
