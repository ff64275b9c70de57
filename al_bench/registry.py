"""One registry for every extensible part: strategies, datasets, embedders, heads, reports, sinks.

A member is a function or class registered under a name, with metadata that describes it
(what a strategy needs, what its score means, whether an embedder is fitted …). Its options
are read from its signature: every parameter with a default, except those the caller injects
(``data_dir`` for loaders). Members live one per module in the registry's package and are
found by discovery (pkgutil) on first lookup, so adding a member means adding a module — and,
where Hydra needs it, a YAML file of the same name::

    STRATEGIES = Registry("strategy", package="al_bench.strategies", key="strategy")

    @STRATEGIES.register("entropy", needs={"probs"}, score="predictive entropy (nats)")
    def entropy(view, n, rng): ...

A registry behaves like a read-only mapping ``name → member`` (``name in R``, ``R[name]``,
``sorted(R)``); ``R.entry(name)`` gives the member with its metadata and options.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from .errors import UserError

__all__ = ["Registry", "Entry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered member: its name, the object, its metadata and its options (name → default)."""

    name: str
    obj: T
    meta: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    module: str = ""

    def __getattr__(self, item: str) -> Any:  # metadata reads as attributes: entry.needs, entry.score
        try:
            return self.meta[item]
        except KeyError:
            raise AttributeError(f"{self.name!r} has no metadata {item!r}") from None


def signature_options(obj: Callable, injected: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword parameters with a default (the member's options), in signature order."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    out = {}
    for p in inspect.signature(target).parameters.values():
        if p.default is not inspect.Parameter.empty and p.name not in injected and p.kind in (
                p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = p.default
    return out


class Registry(Mapping[str, T]):
    """Named members of one kind. See the module docstring.

    - ``kind``: what a member is, for messages ("strategy", "dataset" …);
    - ``package``: the package whose modules (not starting with ``_``) are imported on first
      lookup, so that their ``@register`` lines run;
    - ``key``: the config key or flag a user types the name under, for error messages;
    - ``injected``: parameters the caller passes itself, so they are not options;
    - ``required``: metadata every member must declare;
    - ``defaults``: metadata a member gets when it does not declare it;
    - ``option_word``: what an option is called in messages ("parameter" for strategies).
    """

    def __init__(self, kind: str, package: str | None = None, key: str | None = None,
                 injected: tuple[str, ...] = (), required: tuple[str, ...] = (),
                 defaults: Mapping[str, Any] | None = None, option_word: str = "option") -> None:
        self.kind, self.package, self.key = kind, package, key or kind
        self.option_word = option_word
        self.injected, self.required = tuple(injected), tuple(required)
        self.defaults = dict(defaults or {})
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = package is None
        self._loading = False

    # -- registering ------------------------------------------------------------------------
    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: register the function or class under ``name`` with metadata ``meta``."""
        missing = [k for k in self.required if k not in meta]
        if missing:
            raise TypeError(f"{self.kind} {name!r}: missing metadata {missing}")

        def deco(obj: T) -> T:
            if name in self._entries:
                raise RuntimeError(f"{self.kind} {name!r} registered twice "
                                   f"({self._entries[name].module} and {obj.__module__})")
            self._entries[name] = Entry(name, obj, MappingProxyType({**self.defaults, **meta}),
                                        MappingProxyType(signature_options(obj, self.injected)),
                                        getattr(obj, "__module__", ""))
            return obj

        return deco

    def unregister(self, name: str) -> None:
        """Remove member ``name`` (for tests and plugins that add a member for a while)."""
        self._entries.pop(name, None)

    def discover(self) -> None:
        """Import every member module of the package (once)."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            pkg = importlib.import_module(self.package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{mod.name}")
            self._loaded = True
        finally:
            self._loading = False

    # -- lookup -----------------------------------------------------------------------------
    def entry(self, name: str) -> Entry[T]:
        """The member ``name`` with its metadata; an unknown name is a :class:`UserError` that
        lists the choices."""
        self.discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UserError(f"unknown '{name}'; choose one of {sorted(self._entries)}", key=self.key) from None

    def registered(self, name: str) -> Entry[T]:
        """The member ``name`` as registered so far, without discovering the others (for checks
        made while a member module is still being imported)."""
        return self._entries[name]

    def entries(self) -> list[Entry[T]]:
        self.discover()
        return [self._entries[k] for k in sorted(self._entries)]

    def __getitem__(self, name: str) -> T:
        self.discover()
        return self._entries[name].obj

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self.discover()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self.discover()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries) if self._loaded else '…'})"

    # -- options ----------------------------------------------------------------------------
    def options(self, name: str) -> dict[str, Any]:
        """The options of member ``name`` with their defaults."""
        return dict(self.entry(name).options)

    def check_options(self, name: str, given: Mapping[str, Any], prefix: str | None = None) -> None:
        """Fail on an option ``name`` does not take, naming the key (``prefix.option``) and the
        allowed ones. ``prefix`` defaults to the registry's key."""
        allowed = self.options(name)
        for opt in given:
            if opt not in allowed:
                article = "an" if self.option_word[0] in "aeiou" else "a"
                raise UserError(f"not {article} {self.option_word} of {self.kind} '{name}'; "
                                f"allowed: {sorted(allowed) or 'none'}",
                                key=f"{prefix or self.key}.{opt}")
