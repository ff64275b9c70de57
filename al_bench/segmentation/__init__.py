"""Selecting images for segmentation labeling: a model provider that runs the user's
segmentation model on the candidates (per-pixel probabilities, MC dropout, the last layer's
inputs), ALGES gradient embeddings, and the recipes that pick from them (``alges``,
``alges_coreset``, ``uncertainty_coreset``, plus uncertainty top-k, k-center and hybrid).

    from al_bench.segmentation import load_segmentation_model, run_provider, select_segmentation
"""

from .alges import alges_embedding, alges_embeddings
from .provider import SegmentationModel, SegmentationOutputs, load_segmentation_model, run_provider
from .recipes import select_alges, select_alges_coreset, uncertainty_coreset
from .select import SEGMENTATION_STRATEGIES, select_segmentation

__all__ = ["alges_embedding", "alges_embeddings", "SegmentationModel", "SegmentationOutputs", "load_segmentation_model",
           "run_provider", "select_alges", "select_alges_coreset", "uncertainty_coreset", "SEGMENTATION_STRATEGIES",
           "select_segmentation"]
