"""al_bench: a reproducible active-learning benchmark harness."""

__version__ = "0.1.0"

__all__ = ["select", "Selection", "__version__"]


def __getattr__(name: str):
    # lazy: `import al_bench` stays light (Hydra plugins import it); `al_bench.select` loads on use
    if name in ("select", "Selection"):
        from . import selection

        return getattr(selection, name)
    raise AttributeError(f"module 'al_bench' has no attribute {name!r}")
