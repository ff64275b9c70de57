"""Loading a segmentation network from a model file (:func:`load_segmentation_model`).

A file is a ``torch.export`` program (``torch.export.save``), a TorchScript file
(``torch.jit.save``) or a state dict (``torch.save(model.state_dict())``) of a torchvision
segmentation architecture named by ``arch``; files are told apart by their content, not their
extension.

What a model file may do (the trust boundary): only a state dict with ``arch`` is plain data
(``torch.load(weights_only=True)``). A TorchScript file is a program: ``torch.jit.load`` runs its
TorchScript code — a scripted ``__setstate__`` at load, ``forward`` on every batch — which
cannot import Python modules but can call any operator registered in the process, file-writing
ones included (``torch.save`` is ``aten::save``); load only TorchScript files you trust. A
``torch.export`` archive is a program too, and ``torch.export.load`` would unpickle parts of it
with ``weights_only=False`` and evaluate its shape expressions with Python's ``eval``; so before
torch reads one, :func:`~al_bench.segmentation.export_checks.check_export_archive` refuses every
archive that asks for that (pickled weights, constants or sample inputs, object constants, the
legacy formats' pickles, compiled AOTInductor code, shape expressions beyond arithmetic) or whose
graph calls anything but tensor operators (or ones that read or write files). Every loader
refuses NaN or infinite parameters.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterable

from ..embedders.weights import file_sha256
from ..errors import UserError
from .export_checks import check_export_archive
from .network import SegmentationModel, check_device, first_line, last_conv

__all__ = ["load_segmentation_model", "segmentation_archs"]


def segmentation_archs() -> list[str]:
    """Names of torchvision's segmentation builders (``lraspp_mobilenet_v3_large``, …)."""
    import torchvision
    from torchvision.models import segmentation

    return sorted(torchvision.models.list_models(module=segmentation))


def _sniff(path: Path) -> str:
    """What a torch file holds, from its zip members: ``export``, ``torchscript``, ``pickle``
    (torch.save), ``zip`` (some other zip) or ``other`` (not a zip: maybe a legacy torch.save)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return "other"
    if any(n.endswith(("/archive_format", "/serialized_exported_program.json")) for n in names):
        return "export"
    if any("/code/__torch__" in n or n.endswith("/constants.pkl") for n in names):
        return "torchscript"
    if any(n.endswith("data.pkl") for n in names):
        return "pickle"
    return "zip"


def _check_finite(path: Path, tensors: Iterable[Any], what: str) -> None:
    """Refuse a model whose floating-point ``tensors`` hold NaN or infinite values: every score it
    gave would be NaN."""
    import torch

    total = bad = 0
    for t in tensors:
        if torch.is_tensor(t) and (t.is_floating_point() or t.is_complex()):
            total += 1
            if t.numel() and not bool(torch.isfinite(t.detach()).all()):
                bad += 1
    if bad:
        raise UserError(f"{path}: {bad} of its {total} {what} hold NaN or infinite values, so every score would be "
                        "NaN; train or save it again")


def _load_state_dict(path: Path) -> dict:
    """The tensors of a torch.save file, unwrapped from a ``{"state_dict": …}`` or ``{"model": …}``
    checkpoint and from DDP's ``module.`` prefix."""
    import torch

    if _sniff(path) == "other":
        with open(path, "rb") as fh:
            head = fh.read(2)
        if not head.startswith(b"\x80"):  # neither torch.save's zip nor its legacy pickle format
            raise UserError(f"{path}: not a torch file (neither a zip archive nor a pickle)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors of every kind: not a (safe) torch file
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UserError(f"{path}: holds pickled Python objects, not only tensors; save the weights with "
                            "torch.save(model.state_dict(), PATH) (or export the model with torch.export.save)"
                            ) from None
        raise UserError(f"{path}: not a torch file ({first_line(exc)})") from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict) and not torch.is_tensor(obj.get(wrapper)):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise UserError(f"{path}: not a state dict (a mapping of parameter names to tensors); save one with "
                        "torch.save(model.state_dict(), PATH)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    _check_finite(path, obj.values(), "tensors")
    return obj


def _build_torchvision(path: Path, arch: str, num_classes: int | None):
    """A torchvision segmentation network with the state dict at ``path`` (strict), in eval mode."""
    import torch
    from torchvision.models import segmentation

    choices = segmentation_archs()
    if arch not in choices:
        raise UserError(f"{{arch}}={arch}: not a torchvision segmentation architecture; choose one of "
                        f"{', '.join(choices)}", refs={"arch": "arch"})
    sd = _load_state_dict(path)
    builder = getattr(segmentation, arch)
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None}
    if any(k.startswith("aux_classifier.") for k in sd):
        kwargs["aux_loss"] = True  # trained with the auxiliary head: build it so the keys match
    if num_classes is None:  # read it off the classifier's weight; a meta-device build costs no memory
        with torch.device("meta"):
            probe = builder(num_classes=21, **kwargs)
        name = last_conv(probe, 21)
        w = sd.get(f"{name}.weight") if name else None
        num_classes = int(w.shape[0]) if w is not None and w.ndim == 4 else 21
    try:
        net = builder(num_classes=int(num_classes), **kwargs)
    except Exception as exc:  # noqa: BLE001 - bad num_classes and the like
        raise UserError(f"{path}: cannot build {arch}(num_classes={num_classes}) ({first_line(exc)})") from None
    want = net.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    shapes = [k for k in want if k in sd and tuple(sd[k].shape) != tuple(want[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("with another shape", shapes)):
            if keys:
                eg = keys[0] if what != "with another shape" else \
                    f"{keys[0]}: file {tuple(sd[keys[0]].shape)}, model {tuple(want[keys[0]].shape)}"
                parts.append(f"{len(keys)} key(s) {what} (e.g. {eg})")
        raise UserError(f"{path}: the state dict does not match {arch}(num_classes={num_classes}): "
                        + "; ".join(parts) + "; check {arch} and {num_classes}",
                        refs={"arch": "arch", "num_classes": "num_classes"})
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise UserError(f"{path}: the state dict does not load into {arch} ({first_line(exc)})") from None
    return net.eval(), int(num_classes)


def load_segmentation_model(path: str | Path, arch: str | None = None, num_classes: int | None = None,
                            device: str = "cpu", hook_layer: str | None = None) -> SegmentationModel:
    """Load a segmentation network from ``path``.

    Without ``arch``: a ``torch.export`` program (``torch.export.load(path).module()``, once
    :func:`~al_bench.segmentation.export_checks.check_export_archive` has found nothing in it
    that would run code) or a TorchScript file (``torch.jit.load``, which runs the file's
    TorchScript: trust the file). With ``arch`` (a name from :func:`segmentation_archs`):
    ``path`` is a state dict for ``torchvision.models.segmentation.<arch>(weights=None,
    weights_backbone=None, num_classes=num_classes)``, loaded strictly; ``num_classes`` defaults
    to what the state dict's classifier has. ``hook_layer`` names the layer whose inputs are the
    last layer's inputs (default: see :mod:`al_bench.segmentation.network`). NaN or infinite
    parameters are refused. Every failure is a UserError that names the file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    kind = _sniff(p)
    dev = check_device(device)
    # before reading: the weights loaded are the bytes hashed (barring a write in between); an
    # export archive is read once below and hashed from those bytes
    digest = file_sha256(p) if kind != "export" else ""
    if arch is not None:
        if kind in ("export", "torchscript"):
            word = "torch.export program" if kind == "export" else "TorchScript file"
            raise UserError(f"{p}: is a {word}, which carries its own architecture; leave out {{arch}} "
                            f"({arch}), or give a state dict", refs={"arch": "arch"})
        net, n_classes = _build_torchvision(p, arch, num_classes)
        return SegmentationModel(net, kind="torchvision", source=p, arch=arch, num_classes=n_classes,
                                 hook_layer=hook_layer, device=dev, sha256=digest)
    if kind == "export":
        import torch

        data = p.read_bytes()  # hashed, checked and loaded from the same bytes: no rewrite in between
        digest = hashlib.sha256(data).hexdigest()
        check_export_archive(p, data)
        try:
            program = torch.export.load(io.BytesIO(data))  # a buffer: torch accepts any extension without complaint
        except Exception as exc:  # noqa: BLE001 - damaged archives, version mismatches
            raise UserError(f"{p}: cannot load the torch.export program ({first_line(exc)})") from None
        _check_finite(p, [*program.state_dict.values(), *program.constants.values()], "weights and constants")
        return SegmentationModel(program, kind="export", source=p, num_classes=num_classes, hook_layer=hook_layer,
                                 device=dev, sha256=digest)
    if kind == "torchscript":
        import torch

        try:
            with warnings.catch_warnings():  # torch deprecates TorchScript; users who have such a file still load it
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=FutureWarning)
                module = torch.jit.load(str(p), map_location=dev)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{p}: cannot load the TorchScript file ({first_line(exc)})") from None
        _check_finite(p, module.state_dict().values(), "parameters and buffers")
        return SegmentationModel(module, kind="torchscript", source=p, num_classes=num_classes,
                                 hook_layer=hook_layer, device=dev, sha256=digest)
    if kind in ("pickle", "other"):
        _load_state_dict(p)  # a readable state dict passes; anything else raises naming the file
        raise UserError(f"{p}: is a state dict (weights without the network); give its torchvision "
                        f"architecture with {{arch}}=NAME ({', '.join(segmentation_archs())}), or save the "
                        "model with torch.export.save or torch.jit.save", refs={"arch": "arch"})
    raise UserError(f"{p}: a zip archive that is neither a torch.export program, a TorchScript file nor "
                    "a torch.save file")
