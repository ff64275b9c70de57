"""``mc_dropout``: per-pixel entropy of the mean of K passes with only the dropout layers on."""

from __future__ import annotations

from . import mc_maps, register


@register("mc_dropout", needs={"dropout"}, pixel="entropy", order=1,
          score="pixel entropy of the mean of mc_samples MC-dropout passes (nats), reduced per image")
def mc_dropout(model, x, inference, seed: int, mc_samples: int = 8):
    """``mc_samples`` MC-dropout passes. → (B, K, C, H, W)"""
    return mc_maps(model, x, mc_samples, seed)
