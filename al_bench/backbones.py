"""Frozen pretrained networks as embedders (timm), and the ``auto`` embedder's choice.

``dinov2_vits14`` is timm's ``vit_small_patch14_dinov2.lvd142m`` (DINOv2 ViT-S/14, 384-d CLS
features); ``timm`` takes any timm model name. Weights come from a local file
(``embedder.weights=PATH``: a timm or original checkpoint, .safetensors or .pth) or from the
Hugging Face hub cache, downloading into it when the hub is reachable. Features are computed
once per dataset (not per seed: nothing is fitted) and cached; the cache key covers the
weights file's sha256, the transform and the package versions.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .embed import register
from .errors import UserError
from .images import Images, batch_array

log = logging.getLogger(__name__)

__all__ = ["DINOV2", "weights_file", "resolve_auto", "timm_features", "pick_device"]

DINOV2 = "vit_small_patch14_dinov2.lvd142m"
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"embedder.device={device}: CUDA is not available here; use device=auto or cpu")
    return device


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _hub_id(model: str) -> str:
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model)
    except Exception:  # noqa: BLE001 - unknown names raise various errors across timm versions
        cfg = None
    if cfg is None or not cfg.hf_hub_id:
        raise UserError(f"embedder.model={model}: timm knows no hub weights for it; give embedder.weights=PATH")
    return cfg.hf_hub_id


def _cached_hub_file(model: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    repo = _hub_id(model)
    for fname in _HUB_FILES:
        hit = try_to_load_from_cache(repo, fname)
        if isinstance(hit, str):
            return Path(hit)
    return None


def weights_file(model: str, weights: str | None) -> Path:
    """The local weights file for ``model``: the given one, else the hub cache (filled if reachable)."""
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise UserError(f"embedder.weights: no such file: {p.resolve()}")
        return p
    hit = _cached_hub_file(model)
    if hit is not None:
        return hit
    repo = _hub_id(model)
    offline = (f"embedder: cannot load the weights of {model}: not in the Hugging Face hub cache and the hub is unreachable; "
               f"give a local file with embedder.weights=PATH, or run once with a network to fill the hub cache "
               f"(hub id {repo}), or use embedder=kmeans_patches (offline)")
    if not _hub_reachable():
        raise UserError(offline)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, _HUB_FILES[0]))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing file
        raise UserError(f"{offline} ({type(exc).__name__}: {exc})") from exc


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def _create(model: str, image_size: int, path: Path):
    import timm

    overlay = {"file": str(path)}
    try:
        try:
            net = timm.create_model(model, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=0,
                                    img_size=image_size)
        except TypeError:  # models without an img_size argument (convnets) take any size
            net = timm.create_model(model, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=0)
    except UserError:
        raise
    except RuntimeError as exc:
        raise UserError(f"embedder.weights={path}: does not fit {model} ({str(exc).splitlines()[0][:300]})") from exc
    except Exception as exc:  # noqa: BLE001 - unknown model names, unreadable files
        raise UserError(f"embedder: cannot build {model} from {path} ({type(exc).__name__}: {exc})") from exc
    return net.eval()


def timm_features(images: Images, model: str, image_size: int, weights: str | None, batch_size: int,
                  device: str) -> np.ndarray:
    """(N, D) features of a frozen timm network: resize (bicubic) to ``image_size``, normalize
    with the model's mean/std, forward in batches under ``torch.inference_mode``."""
    import torch
    from tqdm.auto import tqdm

    if image_size < 8 or batch_size < 1:
        raise UserError(f"embedder.image_size={image_size}, embedder.batch_size={batch_size}: need >= 8 and >= 1")
    path = weights_file(model, weights)
    net = _create(model, image_size, path)
    dev = pick_device(device)
    net.to(dev)
    cfg = net.pretrained_cfg
    mean = torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406)), device=dev).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", (0.229, 0.224, 0.225)), device=dev).view(1, 3, 1, 1)
    n = len(images)
    out = None
    with torch.inference_mode():
        for s in tqdm(range(0, n, batch_size), desc=f"embedding with {model}", unit="batch",
                      disable=True if n <= batch_size else None, leave=False):  # None: off when not a terminal
            arr = batch_array(images, np.arange(s, min(n, s + batch_size)), image_size)
            if arr.shape[-1] == 1:
                arr = np.repeat(arr, 3, axis=-1)
            x = torch.from_numpy(arr).to(dev).permute(0, 3, 1, 2).float().div_(255.0)
            f = net((x - mean) / std).float().cpu().numpy()
            if out is None:
                out = np.empty((n, f.shape[1]), np.float32)
            out[s : s + len(f)] = f
    return out


def _timm_key(options: dict) -> dict:
    import timm
    import torch

    model = options.get("model", DINOV2)
    path = weights_file(model, options.get("weights"))
    return {"weights_sha256": file_sha256(path), "timm": timm.__version__, "torch": torch.__version__.split("+")[0],
            "transform": {"resize": "bicubic", "image_size": options.get("image_size", 224),
                          "normalize": "pretrained_cfg mean/std"}}


@register("timm", fitted=False, key_info=_timm_key)
def timm_embedder(images: Images, fit_idx: np.ndarray, seed: int, model: str = DINOV2, image_size: int = 224,
                  weights: str | None = None, batch_size: int = 64, device: str = "auto") -> np.ndarray:
    """Any timm model, frozen, pooled features (``num_classes=0``)."""
    return timm_features(images, model, image_size, weights, batch_size, device)


@register("dinov2_vits14", fitted=False, key_info=lambda o: _timm_key({**o, "model": DINOV2}))
def dinov2_vits14(images: Images, fit_idx: np.ndarray, seed: int, image_size: int = 224,
                  weights: str | None = None, batch_size: int = 64, device: str = "auto") -> np.ndarray:
    """DINOv2 ViT-S/14 (timm ``vit_small_patch14_dinov2.lvd142m``), 384-d CLS features."""
    return timm_features(images, DINOV2, image_size, weights, batch_size, device)


@register("auto", fitted=False)
def auto(images: Images, fit_idx: np.ndarray, seed: int, image_size: int = 224, weights: str | None = None,
         batch_size: int = 64, device: str = "auto") -> np.ndarray:
    """Resolved by :func:`resolve_auto` before anything runs; never called itself."""
    raise RuntimeError("embedder 'auto' must be resolved with resolve_auto() first")


TINY = 16  # images at most this many pixels on a side (digits: 8) get `pixels`
_WARNED: set[str] = set()


def resolve_auto(images: Images, options: dict) -> tuple[str, dict]:
    """DINOv2 when its weights can be loaded, else ``kmeans_patches`` (``pixels`` for tiny images)."""
    if isinstance(images, np.ndarray) and max(images.shape[1:3]) <= TINY:
        log.warning("embedder auto: chose pixels (images are %dx%d, too small for DINOv2 or patch features)",
                    images.shape[1], images.shape[2])
        return "pixels", {}
    try:
        weights_file(DINOV2, options.get("weights"))
    except UserError as exc:
        if options.get("weights"):  # a weights file the user named must load: no silent fallback
            raise
        msg = ("embedder auto: DINOv2 is not available (%s). FALLING BACK to kmeans_patches, an offline "
               "label-free embedder: expect much lower accuracy than DINOv2 features")
        # loud once per process (a sweep's log), then one quiet line per run
        log.log(logging.WARNING if str(exc) not in _WARNED else logging.INFO, msg, exc)
        _WARNED.add(str(exc))
        return "kmeans_patches", {}
    log.info("embedder auto: chose dinov2_vits14")
    return "dinov2_vits14", dict(options)
