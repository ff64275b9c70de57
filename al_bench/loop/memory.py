"""Peak extra memory of a block of work, read from the kernel (selection is measured with it)."""

from __future__ import annotations

__all__ = ["PeakMemory"]


class PeakMemory:
    """Peak extra resident memory of a block of work, in MB (Linux; NaN elsewhere).

    Resets the kernel's high-water mark (``/proc/self/clear_refs``), then reads ``VmHWM`` minus
    the resident size at the start. Counts every allocator (numpy, torch, FAISS) alike.
    """

    def __enter__(self) -> "PeakMemory":
        self.mb = float("nan")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._start = _status_kb("VmRSS:")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start is not None:
            peak = _status_kb("VmHWM:")
            if peak is not None:
                self.mb = max(0.0, (peak - self._start) / 1024.0)


def _status_kb(field: str) -> int | None:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return None
