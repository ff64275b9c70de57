"""Picking the next batch to label from real data, with ids attached from source to hand-off.

The flow, one module per stage::

    ids        folder.py   every image file under a folder, checked once (scan cache)
    features   features_file.py  or the caller's own ids + vectors (.npy / .npz / .parquet), memory-mapped
    inputs     inputs.py   the labeled list, model outputs or task predictions, aligned to the ids
    provider   outputs.py  model outputs as a strategy asks for them (given, or from a head trained here)
    scorers /  api.py      :func:`select` runs a registered strategy (its needs and score meaning
    selectors              come from its registration); :func:`select_top` ranks precomputed scores
    result     api.py      :class:`Selection`: ids, per-pick scores, parameters as used
    sinks      sinks.py    the hand-off files and copies, a registry of writers

``al-bench-select`` (:mod:`al_bench.cli.select`) drives it from the command line.
"""

from .api import SCORE_MEANING, Selection, score_meaning, select, select_top

__all__ = ["Selection", "select", "select_top", "SCORE_MEANING", "score_meaning"]
