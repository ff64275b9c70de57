"""al_bench: a reproducible active-learning benchmark harness."""

__version__ = "0.1.0"
