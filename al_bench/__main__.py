"""``python -m al_bench [-m] key=value ...``: one run, or a sweep with ``-m``."""

import hydra
from omegaconf import DictConfig

from al_bench.cli.run import run_job


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_job(cfg)


if __name__ == "__main__":
    main()
