"""``python -m al_bench [-m] key=value ...``: one run, or a sweep with ``-m``."""

import hydra
from omegaconf import DictConfig

from al_bench.cli.run import run_job


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    run_job(cfg)


def main() -> None:
    """Hydra's main, with a signal outside a run (composing, between jobs, aggregating) ending in
    one line and the conventional exit code (130 for Ctrl-C, 143 for SIGTERM) too."""
    import logging
    import sys

    from al_bench.run import Interrupted, signal_name

    # a log file on a disk that filled up must not print a traceback per log line: the run's own
    # one-line error and status say what happened
    logging.raiseExceptions = False
    try:
        _hydra_main()
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else 2
        print(f"al_bench: interrupted by {signal_name(signum)}", file=sys.stderr, flush=True)
        sys.exit(128 + signum)


if __name__ == "__main__":
    main()
