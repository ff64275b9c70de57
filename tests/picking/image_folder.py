"""A generated folder of images for the picking and al-bench-select tests (not a test module)."""

from pathlib import Path

import numpy as np
from PIL import Image

N_GOOD = 40  # readable images in the generated folder (one of them very dark)
DARK = "img_007"  # the very dark one


def make_folder(root: Path) -> Path:
    """A class-free folder: 40 readable images in nested folders (3 colour families, file number
    i has family i % 3), one very dark, one corrupt JPEG, one empty PNG, a hidden folder that
    must be ignored."""
    rng = np.random.default_rng(0)
    base = np.array([[200, 40, 40], [40, 180, 60], [50, 70, 210]], np.float64)
    for i in range(N_GOOD):
        sub = root / ("cam_a" if i % 2 else "cam_b") / ("day1" if i % 3 else "")
        sub.mkdir(parents=True, exist_ok=True)
        if i == 7:
            arr = np.full((24, 32, 3), 3, np.uint8)  # very dark
        else:
            fam = base[i % 3]
            arr = np.clip(fam * rng.uniform(0.5, 1.1) + rng.normal(0, 25, (24, 32, 3)), 0, 255).astype(np.uint8)
            arr[: 4 + i % 12, :, :] = 255 - arr[: 4 + i % 12]  # a varied band
        ext = [".png", ".jpg", ".PNG", ".webp", ".bmp"][i % 5]
        Image.fromarray(arr).save(sub / f"img_{i:03d}{ext}")
    good_jpg = (root / "cam_b" / "img_000.png").read_bytes()
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + good_jpg[:50])  # corrupt
    (root / "empty.png").write_bytes(b"")
    (root / ".thumbs").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / ".thumbs" / "x.png")
    return root


def readable_ids(folder: Path) -> list[str]:
    """Readable ids, the very dark image last (so taking the first few as labeled never takes it)."""
    from al_bench.data.images import scan_images

    ids = [r for r in scan_images(folder) if not r.startswith(("broken", "empty"))]
    return sorted(ids, key=lambda r: DARK in r)


def family(rel: str) -> str:
    """The colour family of an image of the folder, as a class name: a real signal for a head."""
    return f"c{int(rel.split('_')[-1][:3]) % 3}"
