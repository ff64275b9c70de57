"""Providers: one module each, registered by name (``--provider``, ``run_provider(provider=…)``).

A provider says which passes of the segmentation network score an image: it is a function
``(model, x, inference, seed, **options) → maps``, x (B, 3, H, W) being the normalized batch on
the model's device and ``inference`` the batch's deterministic pass
(:class:`~al_bench.segmentation.network.Inference`); ``maps`` (B, C, H, W) are per-pixel
probabilities, or (B, K, C, H, W) K stochastic passes per image. ``seed`` seeds the batch's
random passes (:func:`~al_bench.segmentation.provider.batch_seed`). It declares, when registering:

- ``needs``: what the model must have — ``dropout`` (dropout layers to switch on), or nothing;
- ``pixel``: the per-pixel scorer (:data:`al_bench.segmentation.scorers.PIXEL_SCORERS`) that
  turns one image's maps into an (H, W) uncertainty map, before ``reduce`` makes it one number;
- ``score``: what that per-image number means;
- ``order``: its place in listings and messages.

Its keyword parameters with defaults (``mc_samples``) are options :func:`run_provider` passes.
ALGES embeddings and pooled features always come from the deterministic pass, whatever the provider.
"""

from __future__ import annotations

from typing import Any

from ...registry import Registry

__all__ = ["PROVIDERS", "NEEDS", "register", "provider_names", "mc_maps"]

PROVIDERS: Registry = Registry("provider", package=__name__, key="provider", injected=("seed",),
                               required=("needs", "pixel", "score", "order"))
NEEDS = frozenset({"dropout"})  # what a provider may ask of the model


def register(name: str, *, needs: set[str] | frozenset[str], pixel: str, score: str, order: int, **meta: Any):
    """Register a provider under ``name`` (the ``--provider`` value)."""
    bad = set(needs) - NEEDS
    if bad:
        raise TypeError(f"provider {name!r}: unknown needs {sorted(bad)}; choose from {sorted(NEEDS)}")
    return PROVIDERS.register(name, needs=frozenset(needs), pixel=pixel, score=score, order=int(order), **meta)


def provider_names() -> tuple[str, ...]:
    """Every provider's name, in its declared order (entropy, mc_dropout, bald)."""
    return tuple(e.name for e in sorted(PROVIDERS.entries(), key=lambda e: e.order))


def mc_maps(model, x, samples: int, seed: int):
    """``samples`` MC-dropout passes over the batch x as numpy. → (B, K, C, H, W) probabilities."""
    return model.mc_probs(x, samples, seed).cpu().numpy().swapaxes(0, 1)
