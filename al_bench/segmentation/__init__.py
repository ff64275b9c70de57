"""Selecting images for segmentation labeling: a model provider that runs the user's
segmentation model on the candidates (per-pixel probabilities, MC dropout, the last layer's
inputs), ALGES gradient embeddings, and the recipes that pick from them. Each part in its room:

- :mod:`.loading` — model files → :class:`SegmentationModel` (:mod:`.export_checks`: what an
  export archive may ask of torch, refused before torch reads it);
- :mod:`.network` — the network wrapper: passes, forward hooks, MC dropout;
- :mod:`.providers` — ``PROVIDERS`` (``entropy``, ``mc_dropout``, ``bald``), one module each;
- :mod:`.scorers` — ``PIXEL_SCORERS`` and the per-image reduction of their maps;
- :mod:`.provider` — :func:`run_provider`: the provider over images, cached;
- :mod:`.alges` — ALGES embeddings;
- :mod:`.recipes` — ``RECIPES`` (``uncertainty``, ``kcenter``, ``shortlist_kcenter``, ``alges``,
  ``alges_coreset``, ``ranked_batch``), one module each;
- :mod:`.select` — :func:`select_segmentation` and :func:`select_with_model`, the picks as a
  :class:`~al_bench.picking.Selection`.

    from al_bench.segmentation import load_segmentation_model, run_provider, select_segmentation
"""

from .alges import alges_embedding, alges_embeddings
from .provider import SegmentationModel, SegmentationOutputs, load_segmentation_model, run_provider
from .recipes import RECIPES, select_alges, select_alges_coreset, uncertainty_coreset
from .select import SEGMENTATION_STRATEGIES, select_segmentation

__all__ = ["alges_embedding", "alges_embeddings", "SegmentationModel", "SegmentationOutputs", "load_segmentation_model",
           "run_provider", "select_alges", "select_alges_coreset", "uncertainty_coreset", "SEGMENTATION_STRATEGIES",
           "select_segmentation", "RECIPES"]
