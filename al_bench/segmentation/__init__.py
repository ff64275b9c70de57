"""Selecting images for segmentation labeling: a model provider that runs the user's
segmentation model on the candidates (per-pixel probabilities, MC dropout, the last layer's
inputs), ALGES gradient embeddings, and the recipes that pick from them (``alges``,
``alges_coreset``, ``uncertainty_coreset``)."""
