"""Named, independent random streams derived from one run seed (no global seeding)."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream", "torch_seed"]


def _seed_sequence(seed: int, tags: tuple[str | int, ...]) -> np.random.SeedSequence:
    key = tuple(zlib.crc32(t.encode()) if isinstance(t, str) else int(t) for t in tags)
    return np.random.SeedSequence(entropy=int(seed), spawn_key=key)


def stream(seed: int, *tags: str | int) -> np.random.Generator:
    """A generator for one purpose, e.g. ``stream(seed, "split")`` or ``stream(seed, "select", r)``.

    Streams with different tags are statistically independent, and each depends only on the
    seed and its tags, so e.g. the split does not change when a strategy draws more numbers.
    """
    return np.random.Generator(np.random.PCG64(_seed_sequence(seed, tags)))


def torch_seed(seed: int, *tags: str | int) -> int:
    """A 63-bit integer seed for a ``torch.Generator``, derived like :func:`stream`."""
    return int(_seed_sequence(seed, tags).generate_state(1, np.uint64)[0] >> np.uint64(1))
