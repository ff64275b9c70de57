"""Errors that mean "the input is wrong", as opposed to a bug in al_bench."""


class UserError(ValueError):
    """Bad configuration or data. The entry points print its message alone and exit non-zero."""
