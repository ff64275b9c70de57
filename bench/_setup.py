"""What the bench scripts that fit heads share: a run's settings from Hydra overrides, and the
dataset, split and embedding a run with that seed would use."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def settings(overrides: list[str]) -> Any:
    """RunSettings of ``python -m al_bench OVERRIDES`` (digits / pixels when none are given)."""
    from hydra import compose, initialize_config_dir

    import al_bench
    from al_bench.cli.run import settings_from

    conf = str(Path(al_bench.__file__).resolve().parent / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides or ["dataset=digits", "embedder=pixels"],
                      return_hydra_config=True)
    return settings_from(cfg)[0]


def seed_data(s: Any, ds: Any, seed: int) -> tuple[Any, Any]:
    """(split, embedding) of dataset ``ds`` at ``seed``, as a run makes them."""
    from al_bench.data import make_split
    from al_bench.embedders import embed

    split = make_split(ds.labels, seed, s.dataset.test_fraction, s.dataset.calibration_fraction, ds.is_test)
    return split, embed(ds.images, split.pool, s.embedder.name, ds.fingerprint(), s.data_dir, seed,
                        **s.embedder.options)
