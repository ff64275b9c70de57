"""The exported model: one file that al_bench and plain torch both load.

The file is ``torch.save`` of a dict holding only tensors, strings, numbers, lists and dicts, so
``torch.load(path, weights_only=True)`` reads it without running any code from the file::

    m = torch.load("model.pt", weights_only=True)
    probs = torch.softmax((features @ m["weight"].T + m["bias"]) / m["temperature"], dim=1)
    labels = [m["classes"][i] for i in probs.argmax(1)]

Keys (``format`` = ``"al_bench.linear_head"``, ``format_version`` = 1):

- ``weight`` (C, d) float32, ``bias`` (C,) float32: the linear head on the embeddings.
- ``temperature``: divide the logits by it before the softmax (fitted on cross-validated logits
  of the labeled set; 1.0 when there were too few labels).
- ``classes``: the C class names, in logit order.
- ``embedder``: ``{"name", "options", "dim", "fitted_on"}`` — the embedder whose features the
  head takes. ``fitted_on`` is None for frozen networks (``dinov2_vits14``: the name and options
  reproduce the features anywhere); for an embedder fitted on the images (``kmeans_patches``,
  the offline fallback) it is the fingerprint of the images it was fitted on, and features for
  other images come from the labeling project (:meth:`LabelingProject.features`).
- ``head``: ``{"name": "linear", "settings": {...}}``; ``n_labeled``, ``created``, ``project``.

:func:`load_model` returns an :class:`ExportedModel` with ``predict_proba(features)``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserError

__all__ = ["FORMAT", "ExportedModel", "load_model", "model_bytes", "read_model_bytes"]

FORMAT = "al_bench.linear_head"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "weight", "bias", "temperature", "classes", "embedder")


@dataclass(frozen=True)
class ExportedModel:
    """A loaded model file: the head, its temperature, class names and embedder identity."""

    weight: np.ndarray  # (C, d) float32
    bias: np.ndarray  # (C,) float32
    temperature: float
    classes: tuple[str, ...]
    embedder: dict[str, Any]
    meta: dict[str, Any]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(N, d) → (N, C) float64 logits, no temperature (computed in float32 as the head does)."""
        x = torch.as_tensor(np.ascontiguousarray(features), dtype=torch.float32)
        if x.ndim != 2 or x.shape[1] != self.weight.shape[1]:
            raise UserError(f"features must be (N, {self.weight.shape[1]}) for this model "
                            f"({self.embedder.get('name')}), got {tuple(x.shape)}")
        return (x @ torch.from_numpy(self.weight).T + torch.from_numpy(self.bias)).double().numpy()

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Temperature-scaled class probabilities, (N, C) float64."""
        from ..heads import softmax

        return softmax(self.logits(features) / self.temperature)

    def head(self):
        """The model as an al_bench :class:`~al_bench.heads.linear.LinearHead` (for strategies)."""
        from ..heads.linear import LinearHead, LinearSettings

        settings = LinearSettings(**{k: v for k, v in self.meta.get("head", {}).get("settings", {}).items()
                                     if k in LinearSettings.__dataclass_fields__})
        h = LinearHead(self.weight.shape[1], self.weight.shape[0], settings, 0)
        h.weight, h.bias = torch.from_numpy(self.weight.copy()), torch.from_numpy(self.bias.copy())
        h.temperature = float(self.temperature)
        h.classes = tuple(self.classes)  # its class names: a selection can name each pick's predicted class
        return h


def model_bytes(head, classes: list[str], embedder: dict[str, Any], **meta: Any) -> bytes:
    """The file's bytes for a fitted linear ``head`` (weights, temperature) and what it needs."""
    import dataclasses

    blob = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "weight": head.weight.detach().to(torch.float32).contiguous().clone(),
            "bias": head.bias.detach().to(torch.float32).contiguous().clone(),
            "temperature": float(head.temperature), "classes": [str(c) for c in classes],
            "embedder": embedder, "head": {"name": "linear", "settings": dataclasses.asdict(head.s)}, **meta}
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def read_model_bytes(data: bytes, what: str = "model file") -> ExportedModel:
    """Parse a model file's bytes; a file that is not one, or whose weights are not all finite,
    fails with a one-line message saying why."""
    try:
        m = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many kinds for a file that is not a torch archive
        raise UserError(f"does not load as an al_bench model file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else ''})", key=what) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UserError(f"is not an al_bench model file (no format={FORMAT!r} entry)", key=what)
    missing = [k for k in REQUIRED if k not in m]
    if missing:
        raise UserError(f"lacks {', '.join(missing)}", key=what)
    if int(m["format_version"]) > FORMAT_VERSION:
        raise UserError(f"format_version {m['format_version']} is newer than this al_bench reads ({FORMAT_VERSION})",
                        key=what)
    w, b = m["weight"], m["bias"]
    if not (isinstance(w, torch.Tensor) and isinstance(b, torch.Tensor) and w.ndim == 2 and b.shape == (w.shape[0],)
            and len(m["classes"]) == w.shape[0]):
        raise UserError("weight must be (C, d), bias (C,) and classes C names", key=what)
    w, b = w.to(torch.float32), b.to(torch.float32)  # as the head computes (a float64 1e300 becomes inf here)
    for name, tensor in (("weight", w), ("bias", b)):  # a NaN weight makes every prediction NaN: refuse it at import
        if not bool(torch.isfinite(tensor).all()):
            raise UserError(f"its {name} holds NaN or infinite values; export the model again from a project "
                            "whose fit succeeded", key=what)
    try:
        t = float(m["temperature"])
    except (TypeError, ValueError):  # a list or a word: no number at all
        raise UserError("temperature must be a positive number", key=what) from None
    if not (np.isfinite(t) and t > 0):
        raise UserError(f"temperature must be a positive number, got {t}", key=what)
    meta = {k: v for k, v in m.items() if k not in ("weight", "bias")}
    return ExportedModel(w.numpy().copy(), b.numpy().copy(), t,
                         tuple(str(c) for c in m["classes"]), dict(m["embedder"]), meta)


def load_model(path: str | Path) -> ExportedModel:
    """Load a model file written by :meth:`LabelingProject.export_model`."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read it ({exc.strerror or exc})", key=str(path)) from None
    return read_model_bytes(data, str(path))
