"""Checks of a strategy request before any job runs: parameter names, parameter values
(type and declared range) and ``strategy.sampling`` / ``strategy.beta``; each fails in one
line naming the config key."""

from __future__ import annotations

import math
import numbers

from ..errors import UserError
from ._registry import STRATEGIES, samples_scores
from ._sampling import SAMPLINGS

__all__ = ["check_params", "check_param_values", "check_sampling"]


def check_params(name: str, params: dict) -> None:
    """Fail, naming the allowed values, on an unknown strategy or parameter."""
    STRATEGIES.check_options(name, params, prefix="strategy.params")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_param_values(name: str, params: dict) -> None:
    """Fail in one line naming ``strategy.params.<key>`` on a parameter value of the wrong type
    (its default's: integers for an ``int`` default), not finite, or outside the range the
    strategy declares (``param_ranges``). Unknown parameters fail too (:func:`check_params`)."""
    check_params(name, params)
    entry = STRATEGIES.entry(name)
    ranges = entry.meta.get("param_ranges") or {}
    for key, value in params.items():
        default = entry.options[key]
        lo, hi = ranges.get(key, (None, None))
        span = f" in [{_fmt(lo)}, {_fmt(hi)}]" if lo is not None else ""
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise UserError(f"got {value!r}; must be true or false", key=f"strategy.params.{key}")
            continue
        if isinstance(default, numbers.Integral):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise UserError(f"got {value!r}; must be an integer{span}", key=f"strategy.params.{key}")
        elif isinstance(default, numbers.Real):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise UserError(f"got {value!r}; must be a finite number{span}", key=f"strategy.params.{key}")
        else:
            continue
        if lo is not None and not lo <= value <= hi:
            raise UserError(f"got {value!r}; must be {'an integer' if isinstance(default, numbers.Integral) else 'a number'}"
                            f"{span}", key=f"strategy.params.{key}")


def check_sampling(name: str, sampling: str = "topk", beta: float = 1.0) -> None:
    """Fail in one line naming ``strategy.sampling`` or ``strategy.beta``: an unknown sampling,
    a β that is not a finite number ≥ 0, a β other than 1 with ``topk`` (where it does nothing),
    or a stochastic sampling for a strategy that does not score every candidate."""
    if sampling not in SAMPLINGS:
        raise UserError(f"got {sampling!r}; choose one of {list(SAMPLINGS)}", key="strategy.sampling")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta < 0:
        raise UserError(f"got {beta!r}; must be a finite number >= 0", key="strategy.beta")
    if sampling == "topk":
        if beta != 1.0:
            raise UserError(f"{_fmt(beta)} does nothing with strategy.sampling=topk; leave it at 1 or choose "
                            f"one of {list(SAMPLINGS[1:])}", key="strategy.beta")
        return
    if not samples_scores(name):
        able = [e.name for e in STRATEGIES.entries() if e.meta.get("pool_scores") is not None]
        raise UserError(f"{sampling!r} needs a strategy that scores every candidate, and {name!r} does not; "
                        f"it applies to {able}, else use topk", key="strategy.sampling")
