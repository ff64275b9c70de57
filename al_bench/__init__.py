"""al_bench: a reproducible active-learning benchmark harness."""

__version__ = "0.1.0"

__all__ = ["select", "Selection", "read_features", "__version__"]


def __getattr__(name: str):
    # lazy: `import al_bench` stays light (Hydra plugins import it); `al_bench.select` loads on use
    if name in ("select", "Selection"):
        from .picking import api

        return getattr(api, name)
    if name == "read_features":  # your own embeddings: ids + vectors from .npy / .npz / .parquet
        from .picking.features_file import read_features

        return read_features
    raise AttributeError(f"module 'al_bench' has no attribute {name!r}")


def _register_resolver() -> None:
    """``${al_bench_run_dir:}`` in the config (Hydra's run and sweep folders) names the run folder
    by :func:`al_bench.runfiles.run_dir_name`. Registered on import, so that every process that
    composes or resolves a config (the sweeper, launcher workers) has it."""
    try:
        from omegaconf import OmegaConf
    except ImportError:  # the library without Hydra
        return

    def resolve(*, _root_) -> str:
        from .config import run_dir_of_config

        try:
            return run_dir_of_config(_root_)
        except Exception:  # noqa: BLE001 - a config the checks refuse before anything is written
            return "invalid-config"

    if not OmegaConf.has_resolver("al_bench_run_dir"):
        OmegaConf.register_new_resolver("al_bench_run_dir", resolve)


_register_resolver()
