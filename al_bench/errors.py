"""Errors that mean "the input is wrong", as opposed to a bug in al_bench."""

from __future__ import annotations

from typing import Callable, Mapping

__all__ = ["UserError"]


class UserError(ValueError):
    """Bad configuration or data. The entry points print its message alone and exit non-zero.

    ``key`` is the config key the error is about (``strategy.params.k``, ``embedder.weights``);
    the message reads ``"<key>: <detail>"``. ``refs`` names further keys the detail mentions as
    ``{placeholders}`` (e.g. ``"give {weights}=PATH"`` with ``refs={"weights": "embedder.weights"}``).
    A command with its own flags words the same error with :meth:`worded`, so no caller ever
    rewrites messages by pattern.
    """

    def __init__(self, detail: str, key: str | None = None, refs: Mapping[str, str] | None = None) -> None:
        self.detail, self.key, self.refs = detail, key, dict(refs or {})
        super().__init__(self.worded())

    def worded(self, word: Callable[[str], str] = str) -> str:
        """The message with every key (its own and those in ``refs``) named by ``word(key)``."""
        detail = self.detail
        for name, key in self.refs.items():  # only these placeholders: other braces stay as they are
            detail = detail.replace("{" + name + "}", word(key))
        return f"{word(self.key)}: {detail}" if self.key else detail
