"""Long-tailed pools from any dataset (``dataset.imbalance``): the pool is subsampled per class,
seeded; the test and calibration splits stay as the dataset gives them.

Two shapes, in the dataset's class order (class 0 is the head):

- ``ratio`` ρ with ``profile=exponential`` (the CIFAR-10-LT construction of Cao et al., NeurIPS
  2019): class i keeps ⌊n₀ · ρ^(−i/(C−1))⌋ of its pool items, n₀ being class 0's pool count, so the
  head keeps everything and the last class 1/ρ of that;
- ``proportions``: one share per class (they are normalized), or a preset name. The pool is the
  largest one with those shares that the dataset's pool can fill: N = min over classes of
  (pool count / share), class i keeping ⌊N · share_i⌋.

The preset ``bdd100k_weather`` has the seven shares of BDD100K's weather labels on its 69,863
training frames (clear 53.5 %, overcast 12.6 %, undefined 11.6 %, snowy 7.9 %, rainy 7.3 %,
partly cloudy 7.0 %, foggy 0.19 %). On a dataset with more classes, its classes 0–6 take these
shares in that order and the other classes leave the pool, test and calibration alike: a
seven-class problem with BDD's shape (on CIFAR-10: airplane … horse; ship and truck leave).

A class the pool cannot fill at the requested shape, or that would keep no item, is a one-line
error naming the class and the numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..rng import stream
from .dataset import ImageDataset
from .split import Split

__all__ = ["Imbalance", "PRESETS", "PROFILES", "parse_imbalance", "restrict_classes", "long_tail_pool"]

PROFILES = ("exponential",)
PRESETS: dict[str, tuple[float, ...]] = {
    # BDD100K weather, training frames: clear, overcast, undefined, snowy, rainy, partly cloudy, foggy
    "bdd100k_weather": (0.535, 0.126, 0.116, 0.079, 0.073, 0.070, 0.0019),
}
DEFAULT = {"ratio": None, "profile": "exponential", "proportions": None}  # off


@dataclass(frozen=True)
class Imbalance:
    """A long-tail shape for the pool: ``ratio`` (with ``profile``) or ``shares``; neither: off."""

    ratio: float | None = None
    profile: str = "exponential"
    shares: tuple[float, ...] | None = None  # normalized, one per kept class
    preset: str | None = None

    @property
    def on(self) -> bool:
        return self.ratio is not None or self.shares is not None

    def n_classes(self, n_classes: int) -> int:
        """How many of the dataset's classes stay (the first ones)."""
        if self.shares is None:
            return n_classes
        if len(self.shares) > n_classes:
            raise UserError(f"{len(self.shares)} shares for a dataset of {n_classes} classes",
                            key="dataset.imbalance.proportions")
        if self.preset is None and len(self.shares) != n_classes:
            raise UserError(f"{len(self.shares)} shares for a dataset of {n_classes} classes: give one per class",
                            key="dataset.imbalance.proportions")
        return len(self.shares)

    def canonical(self) -> dict:
        """The config node as parsed (numbers as floats), for the run identity."""
        props = self.preset if self.preset is not None else (list(self.shares) if self.shares is not None else None)
        return {"ratio": self.ratio, "profile": self.profile, "proportions": props}


def parse_imbalance(node: Mapping | None) -> Imbalance:
    """``dataset.imbalance`` → :class:`Imbalance`; one-line errors naming the key."""
    if node is None:
        return Imbalance()
    if not isinstance(node, Mapping):
        raise UserError(f"got {node!r}; give ratio=... or proportions=...", key="dataset.imbalance")
    unknown = sorted(set(node) - set(DEFAULT))
    if unknown:
        raise UserError(f"unknown key(s) {unknown}; the keys are {sorted(DEFAULT)}", key="dataset.imbalance")
    ratio, profile, props = node.get("ratio"), node.get("profile", "exponential"), node.get("proportions")
    if profile not in PROFILES:
        raise UserError(f"got {profile!r}; choose one of {list(PROFILES)}", key="dataset.imbalance.profile")
    if ratio is not None and props is not None:
        raise UserError("give ratio or proportions, not both", key="dataset.imbalance")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not (1.0 <= float(ratio) < math.inf):
            raise UserError(f"got {ratio!r}; give the head-to-tail ratio, a number >= 1", key="dataset.imbalance.ratio")
        return Imbalance(ratio=float(ratio), profile=profile)
    if props is None:
        return Imbalance(profile=profile)
    if isinstance(props, str):
        if props not in PRESETS:
            raise UserError(f"unknown preset {props!r}; presets: {sorted(PRESETS)}, or one share per class",
                            key="dataset.imbalance.proportions")
        shares, preset = PRESETS[props], props
    else:
        if not isinstance(props, Sequence) or len(props) < 2 or any(
                isinstance(v, bool) or not isinstance(v, numbers.Real) or not (0 < float(v) < math.inf) for v in props):
            raise UserError(f"got {props!r}; give a preset name or one positive share per class (at least 2)",
                            key="dataset.imbalance.proportions")
        shares, preset = tuple(float(v) for v in props), None
    total = float(sum(shares))
    return Imbalance(profile=profile, shares=tuple(v / total for v in shares), preset=preset)


def restrict_classes(ds: ImageDataset, n_classes: int) -> ImageDataset:
    """``ds`` without the items of classes ``n_classes`` and above (pool, test and calibration
    alike); the classes kept keep their codes and names."""
    if n_classes >= ds.n_classes:
        return ds
    keep = np.flatnonzero(ds.labels < n_classes)
    from .images import ImageFiles

    images = (ImageFiles(ds.images.root, [ds.images.relpaths[i] for i in keep]) if isinstance(ds.images, ImageFiles)
              else ds.images[keep])
    return ImageDataset(ds.name, images, ds.labels[keep], np.asarray(ds.ids)[keep], ds.class_names[:n_classes],
                        None if ds.is_test is None else ds.is_test[keep], ds.skipped)


def targets(imb: Imbalance, counts: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """Items each class keeps in the pool, given its pool ``counts``."""
    c = len(counts)
    if imb.ratio is not None:
        n0 = int(counts[0])
        want = np.array([math.floor(n0 * imb.ratio ** (-i / (c - 1))) if c > 1 else n0 for i in range(c)], np.int64)
        what = f"ratio {imb.ratio:g}: class i keeps ⌊{n0} · {imb.ratio:g}^(−i/{c - 1})⌋"
    else:
        shares = np.asarray(imb.shares[:c])
        total = min(counts[i] / shares[i] for i in range(c))
        want = np.floor(total * shares + 1e-9).astype(np.int64)
        what = f"shares {', '.join(f'{s:.4g}' for s in shares)} of a pool of {total:.0f}"
    for i in range(c):
        if want[i] > counts[i]:
            raise UserError(f"class {class_names[i]!r} has {int(counts[i])} pool item(s), {int(want[i])} needed "
                            f"({what})", key="dataset.imbalance")
        if want[i] < 1:
            fix = "a smaller ratio" if imb.ratio is not None else "larger shares for the rare classes"
            raise UserError(f"class {class_names[i]!r} would keep no pool item ({what}); use {fix} or a larger "
                            "dataset", key="dataset.imbalance")
    return want


def long_tail_pool(split: Split, labels: np.ndarray, imb: Imbalance, class_names: Sequence[str], seed: int) -> Split:
    """``split`` with its pool subsampled to the long tail ``imb`` (a uniform draw per class from
    the stream ``stream(seed, "imbalance")``); test and calibration untouched."""
    if not imb.on:
        return split
    pool = split.pool
    y = np.asarray(labels)[pool]
    counts = np.bincount(y, minlength=len(class_names))
    want = targets(imb, counts, class_names)
    rng = stream(seed, "imbalance")
    kept = [np.sort(rng.choice(pool[y == i], size=int(want[i]), replace=False)) for i in range(len(class_names))]
    return Split(np.sort(np.concatenate(kept)).astype(np.int64), split.test, split.calibration)
