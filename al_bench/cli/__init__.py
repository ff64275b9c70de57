"""Command-line entry points: the Hydra job (``python -m al_bench``), ``al-bench-select``, ``al-bench-aggregate``."""
