"""``entropy``: per-pixel entropy of one deterministic pass."""

from __future__ import annotations

from . import register


@register("entropy", needs=set(), pixel="entropy", order=0,
          score="pixel entropy of one deterministic pass (nats), reduced per image")
def entropy(model, x, inference, seed: int):
    """The deterministic pass's probabilities. → (B, C, H, W)"""
    return inference.probs.cpu().numpy()
