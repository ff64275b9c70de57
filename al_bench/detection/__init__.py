"""Object detection: per-image informativeness scores from a detector's boxes.

- :mod:`.records` — the detections format, validated, and reading it from JSON Lines;
- :mod:`.scorers` — ``DETECTION_SCORERS``: one module per scorer (``object_frequency``,
  ``objectness_least_confidence``, ``box_entropy``, ``box_margin``, ``box_least_confidence``).

Used by ``al-bench-select --task detection --predictions dets.jsonl --scorer NAME``
(:func:`al_bench.task_scores.read_task_scores`); :mod:`al_bench.task_scores` re-exports all of it.
"""

from .records import DETECTION_KEYS, check_detections, detections_from_json
from .scorers import DETECTION_REDUCTIONS, DETECTION_SCORERS, register
from .scorers._boxes import box_uncertainty
from .scorers.object_frequency import object_frequency
from .scorers.objectness_least_confidence import objectness_least_confidence

__all__ = ["DETECTION_KEYS", "DETECTION_REDUCTIONS", "DETECTION_SCORERS", "register", "check_detections",
           "detections_from_json", "object_frequency", "objectness_least_confidence", "box_uncertainty"]
