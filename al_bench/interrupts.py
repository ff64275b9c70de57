"""Signals that end a run, and the stretches of code they must not cut in half.

SIGTERM (a scheduler's cancel or time limit, ``kill``) and SIGINT (Ctrl-C) end a run with its
status ``interrupted`` and its checkpoint kept. Python delivers a signal between any two
bytecodes, so one arriving inside a file write (``np.savez`` of the checkpoint, a CSV) raised
there and left the writer half-closed: zipfile then raised its own error over ours, and the
run ended ``failed`` instead of ``interrupted``. Inside :func:`uninterrupted` a signal is only
noted, and raised when the stretch ends, so every file is either written whole or not at all.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["Interrupted", "signal_name", "uninterrupted", "on_signal", "catch_signals"]

_depth = 0  # how many uninterrupted stretches are open (they nest)
_pending: int | None = None  # the signal that arrived inside one


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(BaseException):
    """A run stopped by a signal (SIGTERM from a scheduler, kill, ...). Not an ``Exception``, so
    nothing on the way catches it by accident; SIGINT arrives as ``KeyboardInterrupt``."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(signal_name(signum))


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def on_signal(signum: int, frame: Any = None) -> None:
    """The handler: raise now, or, inside an uninterrupted stretch, when it ends."""
    global _pending
    if _depth > 0:
        if _pending is None:
            _pending = int(signum)
        return
    _raise(int(signum))


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGTERM/SIGINT (as installed by :func:`catch_signals`) until the block ends."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            signum, _pending = _pending, None
            _raise(signum)


def catch_signals() -> None:
    """Install :func:`on_signal` for SIGTERM and SIGINT (main thread only; elsewhere Python
    allows no handlers, and the defaults stay)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
