"""Typed, checked option dataclasses: the settings of a head (and anything else configured by
a flat mapping of scalars) declare each field's type and allowed range once; :func:`parse`
turns a config mapping into an instance with one-line errors that name the key."""

from __future__ import annotations

import dataclasses
import numbers
import typing
from typing import Any, Mapping, TypeVar

from .errors import UserError

__all__ = ["option", "parse", "check_number", "check_int"]

T = TypeVar("T")


def option(default: Any, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           hi_open: bool = False, choices: tuple | None = None, help: str = "") -> Any:
    """A dataclass field with its allowed values: a number in [lo, hi] (either end open), or one
    of ``choices``. ``help`` says what it sets."""
    return dataclasses.field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open,
                                                        "choices": choices, "help": help})


def check_number(key: str, value: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{key}={value!r}: must be a number")
    v = float(value)
    if v != v or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):  # v != v: NaN
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise UserError(f"{key}={value!r}: must lie in {lb}{lo:g}, {hi:g}{rb}")
    return v


def check_int(key: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < lo:
        raise UserError(f"{key}={value!r}: must be an integer >= {lo}")
    return int(value)


def _value(key: str, value: Any, kind: Any, meta: Mapping[str, Any]) -> Any:
    optional = typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and \
        type(None) in typing.get_args(kind)
    if optional:
        if value is None:
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise UserError(f"{key}={value!r}: choose one of {list(meta['choices'])}")
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{key}={value!r}: must be true or false")
        return value
    if kind is int:
        return check_int(key, value, int(meta["lo"]) if meta.get("lo") is not None else -(2**62))
    if kind is float:
        lo = meta["lo"] if meta.get("lo") is not None else float("-inf")
        hi = meta["hi"] if meta.get("hi") is not None else float("inf")
        return check_number(key, value, lo, hi, meta.get("lo_open", False), meta.get("hi_open", False))
    if kind is str:
        return str(value)
    return value


def parse(cls: type[T], given: Mapping[str, Any], section: str, ignore: tuple[str, ...] = ()) -> T:
    """An instance of dataclass ``cls`` from ``given`` (missing fields keep their defaults);
    unknown keys (other than ``ignore``) and bad values fail naming ``section.key``."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(given, Mapping):
        raise UserError(f"{section}: expected a mapping, got {given!r}")
    for key in given:
        if key not in fields and key not in ignore:
            raise UserError(f"{section}.{key}: unknown key; allowed keys: {sorted({*fields, *ignore})}")
    values = {name: _value(f"{section}.{name}", given[name], hints[name], f.metadata)
              for name, f in fields.items() if name in given}
    return cls(**values)
