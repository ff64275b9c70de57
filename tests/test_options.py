"""Typed option dataclasses: parse() keeps defaults, checks types and ranges, names the key."""

from dataclasses import dataclass

import pytest

from al_bench.errors import UserError
from al_bench.options import option, parse


@dataclass(frozen=True)
class Toy:
    rate: float = option(0.1, lo=0.0, hi=1.0, hi_open=True)
    steps: int = option(10, lo=1)
    flag: bool = option(False)
    path: str | None = option(None)
    mode: str = option("a", choices=("a", "b"))


def test_parse_keeps_defaults_and_takes_given_values():
    assert parse(Toy, {}, "model") == Toy()
    got = parse(Toy, {"rate": 0.5, "steps": 3, "flag": True, "path": "/x", "mode": "b", "name": "toy"}, "model",
                ignore=("name",))
    assert got == Toy(0.5, 3, True, "/x", "b")
    assert parse(Toy, {"path": None}, "model").path is None


@pytest.mark.parametrize("given, message", [
    ({"rate": 1.0}, r"model.rate=1.0: must lie in \[0, 1\)"),
    ({"rate": "x"}, "model.rate='x': must be a number"),
    ({"rate": float("nan")}, r"model.rate=nan: must lie in \[0, 1\)"),
    ({"rate": True}, "model.rate=True: must be a number"),
    ({"steps": 0}, "model.steps=0: must be an integer >= 1"),
    ({"steps": 2.5}, "model.steps=2.5: must be an integer >= 1"),
    ({"flag": "yes"}, "model.flag='yes': must be true or false"),
    ({"mode": "c"}, r"model.mode='c': choose one of \['a', 'b'\]"),
    ({"stpes": 3}, r"model.stpes: unknown key; allowed keys: \['flag', 'mode', 'path', 'rate', 'steps'\]"),
])
def test_bad_values_fail_naming_the_key(given, message):
    with pytest.raises(UserError, match=message):
        parse(Toy, given, "model")
