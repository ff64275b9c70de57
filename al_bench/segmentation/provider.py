"""The segmentation model provider: run the user's network on candidate images and keep, per image,
an uncertainty score, ALGES embeddings and a pooled feature vector — never the maps themselves.

A model comes from a file (:func:`~al_bench.segmentation.loading.load_segmentation_model`) or
from Python (:class:`~al_bench.segmentation.network.SegmentationModel` around an ``nn.Module``, a
TorchScript module or a ``torch.export`` program); both are re-exported here.

:func:`run_provider` scores images with a registered provider
(:mod:`al_bench.segmentation.providers`): ``entropy`` (pixel entropy of one deterministic pass),
``mc_dropout`` (pixel entropy of the mean of K passes with only the dropout layers in train mode,
BatchNorm staying in eval) or ``bald`` (per-pixel mutual information of the K passes), each
reduced to one number per image by :func:`~al_bench.segmentation.scorers.reduce_map`. ALGES
embeddings and pooled features always come from the deterministic pass.

Outputs are cached like the embeddings (:mod:`al_bench.embedders.cache`): one entry per model
file's sha256, architecture, options, provider settings and the images' fingerprint, under
``<cache_dir>/segmentation/``; the source of every module the values go through is hashed into
the key, so an edit there recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..data.images import ImageFiles, Images, load_rgb
from ..embedders import cache
from ..errors import UserError
from .loading import load_segmentation_model, segmentation_archs
from .network import Inference, SegmentationModel, first_line
from .providers import PROVIDERS, provider_names
from .scorers import PIXEL_SCORERS, pixel_uncertainty, reduce_map

log = logging.getLogger(__name__)

__all__ = ["PROVIDERS", "IMAGENET_MEAN", "IMAGENET_STD", "SegmentationModel", "Inference", "SegmentationOutputs",
           "load_segmentation_model", "segmentation_archs", "run_provider", "batch_seed"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CACHE_NAME = "segmentation provider"  # how cache warnings name these entries
# Modules the cached values go through besides this one (hashed into the cache key, so an edit
# there recomputes them): the network wrapper, the pixel scorers' shared code, scores, image
# decoding, the cache itself; run_provider adds the provider's and its pixel scorer's modules,
# and ALGES when asked for.
_CODE_MODULES = ("al_bench.embedders.cache", "al_bench.segmentation.network", "al_bench.segmentation.providers",
                 "al_bench.segmentation.scorers", "al_bench.scores", "al_bench.data.images")


@dataclass(frozen=True)
class SegmentationOutputs:
    """Per-image reductions of a segmentation model's outputs, in the order of ``ids``.

    scores (N,) float64, higher = more uncertain; alges: variant → (N, E) float32; pooled (N, D)
    float32, the spatial mean of the last layer's inputs (None when the model gives none);
    info: what produced them (model, provider settings, hooked layer, ``layer_probs_from``).
    """

    ids: tuple[str, ...]
    scores: np.ndarray
    alges: dict[str, np.ndarray]
    pooled: np.ndarray | None
    info: dict
    cache_file: Path | None = None
    from_cache: bool = False
    columns: dict = field(default_factory=dict, repr=False)


def _image_ids(images: Images) -> tuple[str, ...]:
    if isinstance(images, ImageFiles):
        return images.relpaths
    return tuple(str(i) for i in range(len(images)))


def _fingerprint(images: Images) -> str:
    if isinstance(images, ImageFiles):
        return images.fingerprint()
    a = np.ascontiguousarray(images)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def _name(images: Images, i: int) -> str:
    return str(images.path(i)) if isinstance(images, ImageFiles) else f"image {i}"


def _native_size(images: Images, i: int) -> tuple[int, int]:
    """(H, W) of item i, from the file's header only."""
    if not isinstance(images, ImageFiles):
        return tuple(np.asarray(images).shape[1:3])
    from PIL import Image

    try:
        with Image.open(images.path(i)) as im:
            w, h = im.size
    except Exception as exc:  # noqa: BLE001 - PIL raises several types for bad files
        raise UserError(f"{images.path(i)}: unreadable image ({first_line(exc)})") from None
    return int(h), int(w)


def _batch_pixels(images: Images, idx: Sequence[int], size: tuple[int, int] | None) -> np.ndarray:
    """Items ``idx`` as (B, H, W, 3) uint8, resized (bilinear) to ``size`` (H, W) when given."""
    from PIL import Image

    rows = []
    for i in idx:
        try:
            im = load_rgb(images, int(i), max(size) if size else None)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            rows.append(np.asarray(im, dtype=np.uint8))
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{_name(images, int(i))}: unreadable image ({first_line(exc)})") from None
    return np.stack(rows)


def _batches(images: Images, size: tuple[int, int] | None, batch_size: int) -> Iterator[tuple[list[int], tuple | None]]:
    """Index batches: with ``size`` every image is resized to it; without, images are grouped by
    their own size (a batch needs one size) and each group batched in order."""
    n = len(images)
    if size is not None:
        for s in range(0, n, batch_size):
            yield list(range(s, min(n, s + batch_size))), size
        return
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        groups.setdefault(_native_size(images, i), []).append(i)
    for idx in groups.values():
        for s in range(0, len(idx), batch_size):
            yield idx[s : s + batch_size], None


def batch_seed(seed: int, first: int) -> int:
    """The seed of the MC passes over a batch whose first image is item ``first``."""
    return int(np.random.SeedSequence([int(seed), int(first)]).generate_state(1)[0])


def _check_options(model: SegmentationModel, provider: str, reduce: str, topk_fraction: float, mc_samples: int,
                   image_size, batch_size: int, alges: Sequence[str], normalize: bool, mean: Sequence[float],
                   std: Sequence[float]) -> tuple[tuple[int, int] | None, tuple[str, ...]]:
    from .alges import VARIANTS

    if not isinstance(provider, str) or provider not in PROVIDERS:
        raise UserError(f"{{provider}}={provider}: choose one of {', '.join(provider_names())}",
                        refs={"provider": "provider"})
    try:
        reduce_map(np.zeros(1), reduce, topk_fraction)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if "dropout" in PROVIDERS.entry(provider).needs:
        if isinstance(mc_samples, bool) or int(mc_samples) != mc_samples or mc_samples < 2:
            raise UserError(f"{{mc_samples}}={mc_samples}: MC dropout needs at least 2 passes",
                            refs={"mc_samples": "mc_samples"})
        if not model.has_dropout:
            raise UserError(f"{model.name}: the model has no dropout layer, so {{provider}}={provider} has nothing to "
                            "sample; use {provider}=entropy", refs={"provider": "provider"})
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise UserError(f"{{batch_size}}={batch_size}: give a count >= 1", refs={"batch_size": "batch_size"})
    size = None
    if image_size is not None:
        hw = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
        if len(hw) != 2 or any(isinstance(v, bool) or int(v) != v or v < 8 for v in hw):
            raise UserError(f"{{image_size}}={image_size}: give a size >= 8 or (H, W)",
                            refs={"image_size": "image_size"})
        size = (int(hw[0]), int(hw[1]))
    if normalize and (len(mean) != 3 or len(std) != 3 or not all(float(v) > 0 for v in std)):
        raise UserError(f"normalization: give 3 means and 3 positive standard deviations, got mean={tuple(mean)}, "
                        f"std={tuple(std)}")
    if isinstance(alges, str):
        alges = (alges,)
    variants = tuple(dict.fromkeys(alges))
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise UserError(f"ALGES variant(s) {', '.join(map(str, bad))}: choose from {', '.join(VARIANTS)}")
    return size, variants


def run_provider(model: SegmentationModel | Any, images: Images, *, provider: str = "entropy", reduce: str = "mean",
                 topk_fraction: float = 0.1, mc_samples: int = 8, image_size: int | tuple[int, int] | None = None,
                 batch_size: int = 4, alges: Sequence[str] = (), seed: int = 0, cache_dir: str | Path | None = None,
                 progress: bool = True, normalize: bool = True, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD) -> SegmentationOutputs:
    """Run ``model`` on ``images`` in batches and keep per-image reductions (see the module docstring).

    images: :class:`~al_bench.data.images.ImageFiles` or an (N, H, W, 3) uint8 array. With
    ``image_size`` (an int or (H, W)) every image is resized to it (bilinear); without, images
    keep their size and are batched with others of the same size (an exported program traced at
    a fixed size gets that size). Pixels are scaled to [0, 1] and, with ``normalize``,
    standardized with ``mean``/``std`` (ImageNet's by default). ``alges`` names the ALGES variants
    to compute (``image``, ``semantic``); it needs the last layer's inputs. The MC passes over a
    batch are seeded with :func:`batch_seed` (``seed``, the batch's first image), so the same
    seed, images and batch size give the same samples. Memory: one batch's maps (K of them for
    MC) at a time.
    """
    if not isinstance(model, SegmentationModel):
        model = SegmentationModel(model)
    size, variants = _check_options(model, provider, reduce, topk_fraction, mc_samples, image_size, batch_size, alges,
                                    normalize, mean, std)
    fixed_b, fixed_h, fixed_w = model.fixed_input()
    if fixed_h is not None and fixed_w is not None:
        if size is not None and size != (fixed_h, fixed_w):
            raise UserError(f"{{image_size}}={image_size}: {model.name} was exported for {fixed_h}×{fixed_w} inputs "
                            "only; leave {image_size} out, or export with dynamic shapes",
                            refs={"image_size": "image_size"})
        size = (fixed_h, fixed_w)
    run_batch = int(fixed_b) if fixed_b is not None else int(batch_size)
    mc = "dropout" in PROVIDERS.entry(provider).needs  # random passes: their masks depend on the seed
    options: dict[str, Any] = {"provider": provider, "reduce": reduce, "image_size": size, "alges": list(variants),
                               "normalize": [list(map(float, mean)), list(map(float, std))] if normalize else None}
    if reduce == "topk":
        options["topk_fraction"] = float(topk_fraction)
    if mc:  # the dropout masks depend on these
        options.update(mc_samples=int(mc_samples), seed=int(seed), batch_size=run_batch)
    ids = _image_ids(images)
    settings = dict(images=images, model=model, provider=provider, reduce=reduce, topk_fraction=topk_fraction,
                    mc_samples=int(mc_samples), size=size, batch_size=run_batch, pad=fixed_b is not None,
                    variants=variants, seed=int(seed), progress=progress, normalize=normalize, mean=mean, std=std)
    if cache_dir is None:
        packed, columns, info = _compute(**settings)
        return _unpack(ids, packed, columns, {**info, "options": options}, None, False)
    made_by = PROVIDERS.entry(provider)
    code_modules = [*_CODE_MODULES, made_by.module, PIXEL_SCORERS.entry(made_by.pixel).module,
                    *(["al_bench.segmentation.alges"] if variants else [])]
    key, desc = cache.cache_key(_fingerprint(images), np.empty(0, np.int64), "segmentation_provider", options, seed,
                                fitted=False, key_info=lambda _o: {"model": model.describe()},
                                code=cache.code_digest(run_provider, code_modules))
    path = Path(cache_dir) / "segmentation" / f"{key[:24]}.npz"
    hit = _read_entry(path, ids, key, warn=False)  # unlocked first look: silent, a job may be writing it now
    if hit is not None:
        return hit
    with cache.lock(path):
        hit = _read_entry(path, ids, key, warn=True)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        packed, columns, info = _compute(**settings)
        info = {**info, "options": options}
        seconds = time.perf_counter() - t0
        cache.write(path, packed, {"key": key, **desc, "shape": list(packed.shape), "checksum": cache.checksum(packed),
                                   "seconds": round(seconds, 3), "columns": columns, "info": info})
        log.info("segmentation provider: %d image(s) in %.1f s, cached at %s", len(ids), seconds, path)
    return _unpack(ids, packed, columns, info, path, False)


def _unpack(ids, packed: np.ndarray, columns: dict, info: dict, path: Path | None,
            from_cache: bool) -> SegmentationOutputs:
    """Split the packed (N, 1 + ΣE + D) float32 matrix by ``columns`` (name → [start, stop])."""
    def part(name):
        lo, hi = columns[name]
        return np.ascontiguousarray(packed[:, lo:hi])

    scores = part("score")[:, 0].astype(np.float64)
    alges = {name.split("/", 1)[1]: part(name) for name in columns if name.startswith("alges/")}
    pooled = part("pooled") if "pooled" in columns else None
    return SegmentationOutputs(tuple(ids), scores, alges, pooled, info, path, from_cache, dict(columns))


def _read_entry(path: Path, ids, key: str, warn: bool) -> SegmentationOutputs | None:
    packed = cache.read(path, _CACHE_NAME, len(ids), key, warn=warn)
    if packed is None:
        return None
    try:
        manifest = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        columns = {str(k): (int(v[0]), int(v[1])) for k, v in manifest["columns"].items()}
        spans = sorted(columns.values())
        if "score" not in columns or columns["score"][1] - columns["score"][0] != 1 or spans[0][0] != 0 \
                or spans[-1][1] != packed.shape[1] or any(a[0] > a[1] for a in spans) \
                or any(a[1] != b[0] for a, b in zip(spans, spans[1:])):
            raise ValueError("columns do not tile the array")
        return _unpack(ids, packed, columns, dict(manifest.get("info") or {}), path, True)
    except Exception as exc:  # noqa: BLE001 - a damaged manifest: recompute
        if warn:
            log.warning("%s: cache file %s is not used (its manifest's columns are damaged: %s); recomputing it",
                        _CACHE_NAME, path, first_line(exc))
        return None


def _compute(*, images: Images, model: SegmentationModel, provider: str, reduce: str, topk_fraction: float,
             mc_samples: int, size, batch_size: int, pad: bool, variants: tuple[str, ...], seed: int, progress: bool,
             normalize: bool, mean, std) -> tuple[np.ndarray, dict, dict]:
    """(packed (N, 1 + ΣE + D) float32: score, ALGES variants, pooled; columns; info)."""
    import torch
    from tqdm.auto import tqdm

    n = len(images)
    dev = torch.device(model.device)
    mean_t = torch.tensor(list(mean), dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    std_t = torch.tensor(list(std), dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    if variants:
        from .alges import alges_embedding
    scores = np.zeros(n, np.float64)
    emb: dict[str, np.ndarray | None] = {v: None for v in variants}
    pooled: np.ndarray | None = None
    layers: set[tuple[str, str]] = set()
    entry = PROVIDERS.entry(provider)
    method = entry.pixel  # the pixel scorer of the provider's maps
    options = {"mc_samples": mc_samples} if "mc_samples" in entry.options else {}
    bar = tqdm(total=n, desc=f"segmentation model ({provider})", unit="img", leave=False,
               disable=True if (not progress or n <= batch_size) else None)  # None: off when not a terminal
    try:
        with torch.inference_mode():
            for idx, bsize in _batches(images, size, batch_size):
                arr = _batch_pixels(images, idx, bsize)
                real = len(idx)
                if pad and real < batch_size:  # an exported program traced with a fixed batch: repeat the last image
                    arr = np.concatenate([arr, np.repeat(arr[-1:], batch_size - real, axis=0)])
                x = torch.from_numpy(arr).to(dev).permute(0, 3, 1, 2).float().div_(255.0)
                if normalize:
                    x = (x - mean_t) / std_t
                inf = model.infer(x, capture=True)
                if variants and inf.feats is None:
                    raise UserError(f"{model.name}: ALGES needs the last layer's inputs, which a {model.kind} model "
                                    "cannot give through a forward hook; have the model return (logits, feats), "
                                    "feats (B, D, h, w) being the inputs of its last layer")
                # (B, C, H, W), or (B, K, C, H, W) for K random passes seeded by the batch's first image
                maps = entry.obj(model, x, inf, batch_seed(seed, idx[0]), **options)
                feats = inf.feats.cpu().numpy() if inf.feats is not None else None
                lprobs = inf.layer_probs.cpu().numpy() if inf.layer_probs is not None else None
                if feats is not None:
                    layers.add((inf.layer, inf.layer_probs_from))
                    if pooled is None:
                        pooled = np.zeros((n, feats.shape[1]), np.float32)
                    pooled[idx] = feats[:real].mean(axis=(2, 3))
                for j, i in enumerate(idx):
                    try:
                        scores[i] = reduce_map(pixel_uncertainty(maps[j], method), reduce, topk_fraction)
                        for v in variants:
                            e = alges_embedding(lprobs[j], feats[j], variant=v)
                            if emb[v] is None:
                                emb[v] = np.zeros((n, e.size), np.float32)
                            emb[v][i] = e
                    except ValueError as exc:
                        raise UserError(f"{_name(images, i)}: the model's outputs are not usable ({exc})") from None
                bar.update(real)
    finally:
        bar.close()
    parts: list[tuple[str, np.ndarray]] = [("score", scores.astype(np.float32)[:, None])]
    parts += [(f"alges/{v}", emb[v] if emb[v] is not None else np.zeros((n, 0), np.float32)) for v in variants]
    if pooled is not None:
        parts.append(("pooled", pooled))
    columns, start = {}, 0
    for name, a in parts:
        columns[name] = (start, start + a.shape[1])
        start += a.shape[1]
    packed = np.ascontiguousarray(np.concatenate([a for _, a in parts], axis=1), dtype=np.float32)
    if not np.isfinite(packed).all():
        raise UserError(f"{model.name}: the model produced NaN or infinite features")
    layer = sorted(layers)
    info = {"model": model.describe(), "provider": provider,
            "layer": layer[0][0] if len(layer) == 1 else [name for name, _ in layer] or None,
            "layer_probs_from": layer[0][1] if len(layer) == 1 else [how for _, how in layer] or None}
    return packed, columns, info
