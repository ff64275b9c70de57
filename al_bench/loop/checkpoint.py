"""The loop's state after a round, saved so a killed run continues to identical results."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..runfiles import atomic_write

log = logging.getLogger("al_bench.loop")

__all__ = ["Checkpoint"]


class Checkpoint:
    """The loop's state after a round, in one .npz written atomically (temp file + rename)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = Path(path), fingerprint

    def exists(self) -> bool:
        """True when a checkpoint of this same config (fingerprint) is there and readable."""
        if not self.path.is_file():
            return False
        try:
            with np.load(self.path, allow_pickle=False) as z:
                ok = str(z["fingerprint"]) == self.fingerprint
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint means: start over
            log.warning("ignoring unreadable checkpoint %s (%s)", self.path, exc)
            return False
        if not ok:
            log.warning("ignoring checkpoint %s: written by another config or code version", self.path)
        return ok

    def load(self) -> dict:
        with np.load(self.path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        out["meta"] = json.loads(str(out["meta"]))
        return out

    def save(self, *, meta: dict, dist_d, dist_near, **arrays: np.ndarray) -> None:
        empty = np.zeros(0)
        payload = {**arrays, "dist_d": empty if dist_d is None else dist_d,
                   "dist_near": empty if dist_near is None else dist_near,
                   "meta": np.array(json.dumps(meta)), "fingerprint": np.array(self.fingerprint)}
        atomic_write(self.path, lambda f: np.savez(f, **payload))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
