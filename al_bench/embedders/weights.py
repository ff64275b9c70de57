"""Pretrained weights and frozen timm networks, shared by the network embedders (and the resnet18 head).

Weights come from a local file (``embedder.weights=PATH``: a timm or original checkpoint,
.safetensors or .pth) or from the Hugging Face hub cache, downloading into it when the hub is
reachable. The cache key of a network's features covers the weights file's sha256, the
transform and the package versions (:func:`timm_key`).
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

from ..data.images import Images, batch_array
from ..errors import UserError

log = logging.getLogger(__name__)

__all__ = ["DINOV2", "pick_device", "weights_file", "file_sha256", "timm_features", "timm_key"]

DINOV2 = "vit_small_patch14_dinov2.lvd142m"
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def pick_device(device: str) -> str:
    """``auto`` → cuda when available, else cpu; a CUDA device where there is none is a UserError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{{device}}={str(device)}: CUDA is not available here; use device=auto or cpu",
                        refs={"device": "embedder.device"})
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
        raise UserError(f"{{model}}={str(model)}: timm knows no hub weights for it; give {{weights}}=PATH",
                        refs={"model": "embedder.model", "weights": "embedder.weights"})
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
            raise UserError(f"no such file: {p.resolve()}", key="embedder.weights")
        return p
    hit = _cached_hub_file(model)
    if hit is not None:
        return hit
    repo = _hub_id(model)
    offline = (f"cannot load the weights of {str(model)}: not in the Hugging Face hub cache and the hub is "
               f"unreachable; give a local file with {{weights}}=PATH, or run once with a network to fill the hub "
               f"cache (hub id {str(repo)}), or use {{embedder}}=kmeans_patches (offline)")
    refs = {"weights": "embedder.weights", "embedder": "embedder"}
    if not _hub_reachable():
        raise UserError(offline, key="embedder", refs=refs)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, _HUB_FILES[0]))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing file
        raise UserError(f"{offline} ({type(exc).__name__}: {str(exc)})", key="embedder", refs=refs) from exc


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, remembered per (path, size, mtime) within the process."""
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
        raise UserError(f"{{weights}}={str(path)}: does not fit {str(model)} "
                        f"({str(str(exc).splitlines()[0][:300])})", refs={"weights": "embedder.weights"}) from exc
    except Exception as exc:  # noqa: BLE001 - unknown model names, unreadable files
        raise UserError(f"cannot build {model} from {path} ({type(exc).__name__}: {exc})", key="embedder") from exc
    return net.eval()


def timm_features(images: Images, model: str, image_size: int, weights: str | None, batch_size: int,
                  device: str) -> np.ndarray:
    """(N, D) features of a frozen timm network: resize (bicubic) to ``image_size``, normalize
    with the model's mean/std, forward in batches under ``torch.inference_mode``."""
    import torch
    from tqdm.auto import tqdm

    if image_size < 8 or batch_size < 1:
        raise UserError(f"{{image_size}}={image_size}, {{batch_size}}={batch_size}: need >= 8 and >= 1",
                        refs={"image_size": "embedder.image_size", "batch_size": "embedder.batch_size"})
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


def timm_key(options: dict) -> dict:
    """Cache-key material of a timm network's features: its weights' sha256, the transform, the versions."""
    import timm
    import torch

    model = options.get("model", DINOV2)
    path = weights_file(model, options.get("weights"))
    return {"weights_sha256": file_sha256(path), "timm": timm.__version__, "torch": torch.__version__.split("+")[0],
            "transform": {"resize": "bicubic", "image_size": options.get("image_size", 224),
                          "normalize": "pretrained_cfg mean/std"}}
