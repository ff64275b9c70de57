"""``model=resnet18``: end-to-end fine-tuning on the images, for users with a GPU.

Same capabilities as the linear head (calibrated probabilities, MC-dropout samples, last-layer
gradient factors), so every strategy runs unchanged: MC dropout lives in the classifier layer
(one mask per pass over the penultimate features, shared by all points, as in the linear head),
and BADGE's gradient embedding is taken at the last layer. Each fit starts again from the same
initial weights (random from the seed, or pretrained). Diversity strategies keep measuring
distances in the embedder's space. ``device=auto`` picks CUDA when present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from ..options import option
from . import HEADS
from ._common import HeadBase, dropout_masks, gradient_factors, point_dropout_proba, softmax

__all__ = ["ResNetSettings", "ResNetModel"]


@dataclass(frozen=True)
class ResNetSettings:
    """See al_bench/conf/model/resnet18.yaml."""

    arch: str = option("resnet18", help="a timm model name")
    pretrained: bool = option(False, help="start from pretrained weights (model.weights or the hub cache)")
    weights: str | None = option(None, help="local pretrained weights file")
    image_size: int = option(32, lo=8, help="images are resized to this size")
    dropout: float = option(0.3, lo=0.0, hi=1.0, hi_open=True, help="dropout on the penultimate features")
    lr: float = option(0.01, lo=0.0, hi=10.0, lo_open=True, help="SGD learning rate, cosine-decayed to 0")
    momentum: float = option(0.9, lo=0.0, hi=1.0, hi_open=True, help="SGD momentum")
    weight_decay: float = option(5e-4, lo=0.0, hi=1e3, help="SGD weight decay")
    steps: int = option(500, lo=1, help="optimizer steps per fit")
    batch_size: int = option(64, lo=1, help="minibatch size")
    device: str = option("auto", help="auto = cuda when available, else cpu")

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise UserError(f"model.device={self.device!r}: choose auto, cpu or cuda[:N]")


_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@HEADS.register("resnet18", settings=ResNetSettings, inputs="images")
class ResNetModel(HeadBase):
    """A timm backbone plus dropout and a linear classifier, trained end to end on uint8 images.
    (``n_features`` is not used: the network sees the images.)"""

    def __init__(self, n_features: int, n_classes: int, settings: ResNetSettings, seed: int) -> None:
        from ..embedders.weights import pick_device

        self.c, self.s, self.seed = int(n_classes), settings, int(seed)
        self.device = pick_device(settings.device)
        self.temperature = 1.0
        self.backbone = self.classifier = None  # built by fit()

    def _build(self):
        import timm

        kwargs = {"num_classes": 0}
        if self.s.pretrained:
            from ..embedders.weights import weights_file

            path = weights_file(self.s.arch, self.s.weights)
            kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(path)})
        # timm initialises layers from torch's global generator: seed a private copy of it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            try:
                backbone = timm.create_model(self.s.arch, **kwargs)
            except RuntimeError as exc:
                raise UserError(f"model.arch={self.s.arch}: cannot build it ({str(exc).splitlines()[0][:200]})") from exc
            classifier = torch.nn.Linear(backbone.num_features, self.c)
        return backbone.to(self.device), classifier.to(self.device)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        if t.shape[-1] != self.s.image_size or t.shape[-2] != self.s.image_size:
            t = torch.nn.functional.interpolate(t, size=(self.s.image_size,) * 2, mode="bilinear", align_corners=False)
        mean = torch.tensor(_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, device=self.device).view(1, 3, 1, 1)
        return (t - mean) / std

    def fit(self, x: np.ndarray, y: np.ndarray) -> "ResNetModel":
        """Train on images (n, H, W, C) uint8 and labels (n,), from the initial weights again."""
        self.backbone, self.classifier = self._build()
        g = torch.Generator().manual_seed(self.seed)
        params = list(self.backbone.parameters()) + list(self.classifier.parameters())
        opt = torch.optim.SGD(params, lr=self.s.lr, momentum=self.s.momentum, weight_decay=self.s.weight_decay)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        n, bs = len(yt), min(self.s.batch_size, len(yt))
        self.backbone.train()
        self.classifier.train()
        for t in range(self.s.steps):
            for group in opt.param_groups:
                group["lr"] = self.s.lr * 0.5 * (1.0 + math.cos(math.pi * t / self.s.steps))
            idx = torch.randperm(n, generator=g)[:bs].numpy()
            xb = self._tensor(x[idx])
            flip = torch.rand(len(idx), generator=g) < 0.5  # horizontal flips
            xb[flip.to(self.device)] = xb[flip.to(self.device)].flip(-1)
            feats = self.backbone(xb)
            if self.s.dropout > 0:  # masks from the private generator, not torch's global one
                keep = 1.0 - self.s.dropout
                feats = feats * ((torch.rand(feats.shape, generator=g) < keep).float() / keep).to(self.device)
            loss = torch.nn.functional.cross_entropy(self.classifier(feats), yt[idx].to(self.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.backbone.eval()
        self.classifier.eval()
        self.temperature = 1.0
        return self

    @torch.inference_mode()
    def features(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Penultimate features (N, F) float32, eval mode."""
        out = [self.backbone(self._tensor(x[s : s + chunk])).float().cpu() for s in range(0, len(x), chunk)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.backbone.num_features), np.float32)

    @torch.inference_mode()
    def logits(self, x: np.ndarray) -> np.ndarray:
        f = torch.from_numpy(self.features(x)).to(self.device)
        return self.classifier(f).double().cpu().numpy()

    @torch.inference_mode()
    def sample_proba(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        """MC-dropout samples (K, N, C) float32: one dropout mask on the features per pass."""
        g = torch.Generator().manual_seed(int(seed))
        f = torch.from_numpy(self.features(x))
        w = self.classifier.weight.detach().cpu().float()
        b = self.classifier.bias.detach().cpu().float()
        masks = dropout_masks(k, f.shape[1], self.s.dropout, g)
        logits = torch.einsum("nd,kcd->knc", f, w[None] * masks[:, None, :]) + b
        return torch.softmax(logits / self.temperature, dim=-1).numpy()

    def feature_dropout_proba(self, x: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray:
        """``m`` passes with dropout at ``rate`` on the penultimate features, a fresh mask for every
        image in every pass: (M, N, C) float32, temperature-scaled (features computed once)."""
        w = self.classifier.weight.detach().cpu().float().numpy()
        b = self.classifier.bias.detach().cpu().float().numpy()
        return point_dropout_proba(self.features(x), w, b, self.temperature, m, rate, seed)

    def gradient_factors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last-layer gradient factors: a = p − onehot(ŷ) (N, C) and [features, 1] (N, F+1)."""
        f = self.features(x).astype(np.float64)
        p = softmax(self.classifier(torch.from_numpy(f).float().to(self.device)).detach().double().cpu().numpy()
                    / self.temperature)
        return gradient_factors(p, f)
