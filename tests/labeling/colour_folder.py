"""A folder of small generated images whose class is their colour, and a project on it."""

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["red", "green", "blue"]


def make_folder(root: Path, per_class: int = 20, seed: int = 0) -> dict[str, str]:
    """``per_class`` 16×16 PNGs per class under ``root`` (noise around the class colour);
    returns path → class."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for c, name in enumerate(CLASSES):
        for k in range(per_class):
            img = rng.integers(0, 120, (16, 16, 3))
            img[..., c] += 100 + rng.integers(0, 30)
            path = root / f"{name[0]}_{k:03d}.png"
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)
            truth[str(path)] = name
    return truth


