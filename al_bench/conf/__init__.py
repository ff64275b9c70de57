"""Hydra's configs (a package so that ``pkg://al_bench.conf`` resolves when run as the ``al-bench`` script)."""
