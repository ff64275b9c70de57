"""The one Registry class every extensible part uses: registration, discovery, options, errors."""

import pytest

from al_bench.errors import UserError
from al_bench.registry import Registry


def test_register_lookup_metadata_and_options():
    r = Registry("widget", key="widget", required=("colour",), defaults={"size": 1})

    @r.register("b", colour="red")
    def b(x, y, depth=3, *, wide=False):
        return x + y

    @r.register("a", colour="blue", size=5)
    class A:
        def __init__(self, n, scale=2.0):
            self.n = n

    assert sorted(r) == ["a", "b"] and "a" in r and "zz" not in r and len(r) == 2
    assert r["b"] is b and r["b"](1, 2) == 3
    e = r.entry("b")
    assert e.colour == "red" and e.size == 1 and e.module == __name__
    assert dict(e.options) == {"depth": 3, "wide": False}  # defaults only; x, y are not options
    assert r.options("a") == {"scale": 2.0} and r.entry("a").size == 5
    with pytest.raises(TypeError, match="missing metadata"):
        r.register("c")
    with pytest.raises(RuntimeError, match="registered twice"):
        r.register("a", colour="x")(lambda: None)


def test_unknown_names_and_options_are_user_errors_that_carry_their_key():
    r = Registry("strategy", key="strategy", option_word="parameter")
    r.register("bald")(lambda view, n, rng, k=20: None)
    with pytest.raises(UserError) as exc:
        r.entry("bal")
    assert exc.value.key == "strategy" and str(exc.value) == "strategy: unknown 'bal'; choose one of ['bald']"
    with pytest.raises(UserError) as exc:
        r.check_options("bald", {"kk": 3}, prefix="strategy.params")
    assert exc.value.key == "strategy.params.kk"
    assert str(exc.value) == "strategy.params.kk: not a parameter of strategy 'bald'; allowed: ['k']"
    assert exc.value.worded(lambda k: "--param " + k.split(".")[-1]).startswith("--param kk: not a parameter")
    r.check_options("bald", {"k": 5})  # a known option passes


def test_discovery_imports_every_member_module_once():
    from al_bench.strategies import STRATEGIES

    names = {e.module.rsplit(".", 1)[-1] for e in STRATEGIES.entries()}
    assert names == set(STRATEGIES)  # one module per strategy, named like it


def test_user_error_refs_are_worded_by_the_caller():
    e = UserError("cannot load the weights; give {w}=PATH or use {e}=kmeans_patches", key="embedder",
                  refs={"w": "embedder.weights", "e": "embedder"})
    assert str(e) == "embedder: cannot load the weights; give embedder.weights=PATH or use embedder=kmeans_patches"
    flags = {"embedder.weights": "--embedder-opt weights", "embedder": "--embedder"}
    assert e.worded(lambda k: flags.get(k, k)) == ("--embedder: cannot load the weights; give --embedder-opt "
                                                    "weights=PATH or use --embedder=kmeans_patches")
