"""``bald``: per-pixel mutual information (BALD) of K passes with only the dropout layers on."""

from __future__ import annotations

from . import mc_maps, register


@register("bald", needs={"dropout"}, pixel="bald", order=2,
          score="pixel mutual information of mc_samples MC-dropout passes (nats), reduced per image")
def bald(model, x, inference, seed: int, mc_samples: int = 8):
    """``mc_samples`` MC-dropout passes. → (B, K, C, H, W)"""
    return mc_maps(model, x, mc_samples, seed)
