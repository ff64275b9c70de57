"""The network wrapper: a user's segmentation network (an ``nn.Module``, a TorchScript module or a
``torch.export`` program) made into passes that give per-pixel probabilities and the last
layer's inputs.

- Its output is logits (B, C, h, w), a dict with ``"out"`` (torchvision), or a tuple
  ``(logits, feats)`` where feats (B, D, h', w') are the last layer's inputs: the way a
  TorchScript or exported model hands them out, since neither takes forward hooks. Logits are
  resized (bilinear, align_corners=False) to the input size when they differ from it, then
  softmaxed: the per-pixel probabilities (B, C, H, W).
- The last layer's inputs of an ``nn.Module`` (a torchvision architecture or a module given from
  Python) come from a forward hook on the layer named ``hook_layer``, or else on the last
  ``nn.Conv2d`` in registration order with C output channels, leaving out modules under an
  ``aux*`` name (torchvision's auxiliary classifier, which has C outputs too but does not feed
  the logits).

ALGES needs probabilities at the last layer's resolution (:class:`Inference`,
``layer_probs_from``): ``"hooked_logits"`` when the hooked layer's output is the whole of the
logits (resized as the model would, it equals the model's logits: FCN and DeepLabV3 end in one
1 × 1 conv) — softmax of that output; ``"model_logits"`` when the model returned (logits, feats)
with logits at the features' resolution — softmax of those; otherwise ``"resized_probs"``: the
final probabilities area-averaged to the features' resolution. LRASPP is such a case: its logits
are the sum of two classifier convs (``low_classifier`` on stride-8 features plus
``high_classifier``), so the hooked ``high_classifier`` sees only part of them.

MC dropout (:meth:`SegmentationModel.mc_probs`) switches only the dropout layers to train mode;
BatchNorm and everything else stay in eval.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embedders import cache
from ..embedders.weights import file_sha256, pick_device
from ..errors import UserError

__all__ = ["SegmentationModel", "Inference", "first_line", "last_conv", "check_device"]

_KINDS = ("torchvision", "torchscript", "export", "module")
_DROPOUT_NAMES = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")


def first_line(exc: BaseException) -> str:
    """An exception in one line for a message: its type and its first line (300 characters at most)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def last_conv(module, n_classes: int) -> str | None:
    """Name of the last nn.Conv2d (registration order) with ``n_classes`` outputs, not under ``aux*``."""
    from torch import nn

    found = None
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d) and m.out_channels == n_classes \
                and not any(part.startswith("aux") for part in name.split(".")):
            found = name
    return found


def check_device(device: str) -> str:
    """:func:`~al_bench.embedders.weights.pick_device`, its error worded for the ``device`` option."""
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{{device}}={device}: CUDA is not available here; use auto or cpu", refs={"device": "device"})
    return pick_device(device)


# -- the model ----------------------------------------------------------------------------------
@dataclass
class Inference:
    """One deterministic pass over a batch (tensors on the model's device).

    probs (B, C, H, W) softmax at the input size; logits (B, C, h, w) as the model returned them;
    feats (B, D, h', w') the last layer's inputs, or None; layer_probs (B, C, h', w') the
    probabilities at the features' resolution (None without feats); layer: the hooked layer's
    name or ``"model output"``; layer_probs_from: ``hooked_logits``, ``model_logits`` or
    ``resized_probs`` (see the module docstring).
    """

    probs: Any
    logits: Any
    feats: Any = None
    layer_probs: Any = None
    layer: str | None = None
    layer_probs_from: str | None = None


class SegmentationModel:
    """A segmentation network ready for :func:`~al_bench.segmentation.provider.run_provider`.

    ``module``: an ``nn.Module``, a TorchScript module or a ``torch.export`` program (or its
    ``.module()``); ``kind`` is found from it unless given (``torchvision`` for the builds of
    :func:`~al_bench.segmentation.loading.load_segmentation_model`). ``source`` is the file it
    came from (its sha256 keys the cache); ``num_classes`` is checked against the output when given.
    """

    def __init__(self, module: Any, *, kind: str | None = None, source: str | Path | None = None,
                 arch: str | None = None, num_classes: int | None = None, hook_layer: str | None = None,
                 device: str = "cpu", sha256: str | None = None) -> None:
        import torch

        self.device = check_device(device)
        self.program = None
        if isinstance(module, torch.export.ExportedProgram):
            self.program, module, kind = module, module.module(), kind or "export"
        if kind is None:
            if isinstance(module, torch.jit.ScriptModule):
                kind = "torchscript"
            elif isinstance(module, torch.fx.GraphModule):
                kind = "export"
            else:
                kind = "module"
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        self.kind, self.arch, self.hook_layer = kind, arch, hook_layer
        self.source = Path(source) if source is not None else None
        # the file's digest as loaded, not as it is when the model later runs (it may be rewritten)
        self._sha256 = sha256 if sha256 is not None or self.source is None else file_sha256(self.source)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.name = str(self.source) if self.source is not None else type(module).__name__
        try:
            module = module.to(self.device)
        except Exception as exc:  # noqa: BLE001 - exported graphs may pin a device
            raise UserError(f"{self.name}: cannot move the model to {self.device} ({first_line(exc)})") from None
        if kind != "export":  # exported programs refuse train()/eval(); they were traced in eval mode
            module.eval()
        self.module = module
        self.dropout_layers = self._find_dropout()
        if hook_layer is not None and not self.hookable:
            raise UserError(f"{{hook_layer}}={hook_layer}: a {kind} model takes no forward hooks; have the model "
                            "return (logits, feats), feats being the last layer's inputs",
                            refs={"hook_layer": "hook_layer"})
        # C for choosing the hooked layer: a torchvision build's is checked against its state dict;
        # otherwise the first output tells it (a wrong num_classes then fails on the output's C)
        self._classes = self.num_classes if kind == "torchvision" else None
        self._returns_feats: bool | None = None

    # capabilities
    @property
    def has_dropout(self) -> bool:
        """Whether the model has dropout layers that MC dropout can switch on."""
        return bool(self.dropout_layers)

    @property
    def hookable(self) -> bool:
        """Whether forward hooks can capture the last layer's inputs (a plain nn.Module)."""
        return self.kind in ("torchvision", "module")

    def fixed_input(self) -> tuple[int | None, int | None, int | None]:
        """(batch, H, W) an exported program was traced with where they are static, else None each."""
        if self.program is None:
            return None, None, None
        names = list(self.program.graph_signature.user_inputs)
        for node in self.program.graph.nodes:
            if node.op == "placeholder" and names and node.name == names[0]:
                val = node.meta.get("val")
                shape = getattr(val, "shape", None)
                if shape is not None and len(shape) == 4:
                    b, _, h, w = (d if isinstance(d, int) else None for d in shape)
                    return b, h, w
        return None, None, None

    def describe(self) -> dict:
        """What identifies the model in a cache key: its file's sha256 (or, from Python, a digest
        of its parameters and its class's source), kind, architecture, classes, hook layer."""
        import torch

        d: dict[str, Any] = {"kind": self.kind, "arch": self.arch, "num_classes": self.num_classes,
                             "hook_layer": self.hook_layer}
        if self.arch is not None:
            import torchvision

            d["torchvision"] = torchvision.__version__.split("+")[0]
        if self.source is not None:
            d["sha256"] = self._sha256
            return d
        h = hashlib.sha256()
        # what the weights do not say: layer settings (a dropout rate) and, for TorchScript and
        # exported graphs, their code
        h.update(repr(self.module).encode())
        for _, sub in self.module.named_modules():
            code = getattr(sub, "code", None)
            if isinstance(code, str):
                h.update(code.encode())
        for k, v in self.module.state_dict().items():
            t = v.detach().cpu().contiguous()
            h.update(f"{k}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        d["class"] = f"{type(self.module).__module__}.{type(self.module).__qualname__}"
        d["state_sha256"] = h.hexdigest()
        try:
            d["code"] = cache.code_digest(type(self.module), [])["sha256"]
        except (OSError, TypeError):  # defined interactively: no source file to hash
            d["code"] = None
        return d

    def _find_dropout(self) -> list[str]:
        import torch
        from torch import nn

        if self.kind == "export":
            return []  # traced in eval mode: dropout is gone from the graph
        out = []
        for name, m in self.module.named_modules():
            if isinstance(m, torch.jit.ScriptModule):
                if getattr(m, "original_name", "") in _DROPOUT_NAMES:
                    try:  # traced modules freeze training=False into the graph; scripted ones read the flag
                        live = "self.training" in m.code
                    except Exception:  # noqa: BLE001 - no forward method
                        live = False
                    if live:
                        out.append(name)
            elif isinstance(m, nn.modules.dropout._DropoutNd):
                out.append(name)
        return out

    # passes
    def _call(self, x) -> tuple[Any, Any]:
        """The model on x (B, 3, H, W) → (logits (B, C, h, w) float, feats (B, D, h', w') or None)."""
        import torch

        try:
            out = self.module(x)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - shape guards of exported programs, bad models
            raise UserError(f"{self.name}: the model fails on a batch of shape {tuple(x.shape)} "
                            f"({first_line(exc)})") from None
        feats = None
        if isinstance(out, dict):
            if "out" not in out:
                raise UserError(f"{self.name}: the model returns a dict without 'out' (keys: {sorted(out)})")
            logits = out["out"]
        elif isinstance(out, (tuple, list)) and len(out) in (1, 2) and all(torch.is_tensor(t) for t in out):
            logits, feats = out[0], (out[1] if len(out) == 2 else None)
        elif torch.is_tensor(out):
            logits = out
        else:
            raise UserError(f"{self.name}: the model returns {type(out).__name__}; expected logits (B, C, H, W), "
                            "a dict with 'out', or a tuple (logits, feats)")
        B = x.shape[0]
        if logits.ndim != 4 or logits.shape[0] != B:
            raise UserError(f"{self.name}: logits of shape {tuple(logits.shape)} for a batch of {B}; "
                            "expected (B, C, H, W)")
        C = logits.shape[1]
        if C < 2:
            raise UserError(f"{self.name}: logits have {C} channel; per-pixel class probabilities need at least 2 "
                            "(for a sigmoid model return torch.cat([-z, z], 1))")
        if self.num_classes is not None and C != self.num_classes:
            raise UserError(f"{self.name}: the model gives {C} classes, not {{num_classes}}={self.num_classes}",
                            refs={"num_classes": "num_classes"})
        if feats is not None and (feats.ndim != 4 or feats.shape[0] != B):
            raise UserError(f"{self.name}: the model's second output (the last layer's inputs) has shape "
                            f"{tuple(feats.shape)}; expected (B, D, h, w)")
        return logits.float(), None if feats is None else feats.float()

    @staticmethod
    def _probs(logits, size):
        """Softmax over classes after a bilinear resize to ``size`` (H, W) when the sizes differ."""
        import torch.nn.functional as F

        if tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)
        return logits.softmax(dim=1)

    def _layer(self):
        """(name, module) of the layer to hook, or None while C is unknown and no name was given."""
        named = dict(self.module.named_modules())
        if self.hook_layer is not None:
            if self.hook_layer not in named or self.hook_layer == "":
                close = difflib.get_close_matches(self.hook_layer, [n for n in named if n], n=3)
                hint = f" (close: {', '.join(close)})" if close else ""
                raise UserError(f"{{hook_layer}}={self.hook_layer}: {self.name} has no such layer{hint}",
                                refs={"hook_layer": "hook_layer"})
            return self.hook_layer, named[self.hook_layer]
        if self._classes is None:
            return None
        name = last_conv(self.module, self._classes)
        if name is None:
            raise UserError(f"{self.name}: found no nn.Conv2d with {self._classes} output channels whose inputs would "
                            "be the last layer's; name the layer with {hook_layer}=NAME, or have the model return "
                            "(logits, feats)", refs={"hook_layer": "hook_layer"})
        return name, named[name]

    def infer(self, x, capture: bool = True) -> Inference:
        """One deterministic pass on x (B, 3, H, W), already normalized, on the model's device.
        With ``capture`` the last layer's inputs come along when the model can give them."""
        size = x.shape[-2:]
        layer = None
        if capture and self.hookable and not self._returns_feats:
            layer = self._layer()
            if layer is None:  # C unknown: one plain pass tells it (and whether feats come from the model)
                logits, feats = self._call(x)
                self._classes, self._returns_feats = logits.shape[1], feats is not None
                if feats is not None:
                    return self._finish(size, logits, feats, None, None)
                layer = self._layer()
        captured: dict[str, Any] = {}
        handle = None
        if layer is not None:
            def hook(_m, inputs, output):  # keep the last call; copies, so later in-place ops cannot alter them
                if inputs and hasattr(inputs[0], "detach"):
                    captured["in"] = inputs[0].detach().clone()
                captured["out"] = output.detach().clone() if hasattr(output, "detach") else None
            handle = layer[1].register_forward_hook(hook)
        try:
            logits, feats = self._call(x)
        finally:
            if handle is not None:
                handle.remove()
        self._classes, self._returns_feats = logits.shape[1], feats is not None
        if feats is not None or not capture:
            return self._finish(size, logits, feats, None, None)
        if layer is None:
            return self._finish(size, logits, None, None, None)
        if "in" not in captured:
            raise UserError(f"{self.name}: layer {layer[0]} was not called in the forward pass; name another with "
                            "{hook_layer}=NAME", refs={"hook_layer": "hook_layer"})
        feats_in = captured["in"].float()
        if feats_in.ndim != 4 or feats_in.shape[0] != x.shape[0]:
            raise UserError(f"{self.name}: the inputs of layer {layer[0]} have shape {tuple(feats_in.shape)}; "
                            "expected (B, D, h, w)")
        return self._finish(size, logits, feats_in, captured.get("out"), layer[0])

    def _finish(self, size, logits, feats, layer_out, layer_name) -> Inference:
        import torch
        import torch.nn.functional as F

        probs = self._probs(logits, size)
        if feats is None:
            return Inference(probs, logits)
        fsize = tuple(feats.shape[-2:])
        if layer_name is None:  # the model handed feats out itself
            if tuple(logits.shape[-2:]) == fsize:
                return Inference(probs, logits, feats, logits.softmax(dim=1), "model output", "model_logits")
        elif torch.is_tensor(layer_out) and layer_out.ndim == 4 \
                and tuple(layer_out.shape[:2]) == tuple(logits.shape[:2]) and tuple(layer_out.shape[-2:]) == fsize:
            out = layer_out.float()
            if tuple(out.shape[-2:]) != tuple(logits.shape[-2:]):  # resized as torchvision does it
                out_at = F.interpolate(out, size=tuple(logits.shape[-2:]), mode="bilinear", align_corners=False)
            else:
                out_at = out
            tol = 1e-4 * (1.0 + float(logits.abs().max()))
            if torch.allclose(out_at, logits, rtol=1e-4, atol=tol):
                return Inference(probs, logits, feats, out.softmax(dim=1), layer_name, "hooked_logits")
        layer_probs = probs if tuple(probs.shape[-2:]) == fsize else F.interpolate(probs, size=fsize, mode="area")
        return Inference(probs, logits, feats, layer_probs, layer_name or "model output", "resized_probs")

    def mc_probs(self, x, samples: int, seed: int):
        """``samples`` stochastic passes on x with only the dropout layers in train mode (BatchNorm
        and everything else stay in eval), seeded with ``seed`` without touching the global
        random state. → (K, B, C, H, W) probabilities at the input size."""
        import torch

        if not self.has_dropout:
            raise UserError(f"{self.name}: the model has no dropout layer for MC dropout; use {{provider}}=entropy",
                            refs={"provider": "provider"})
        named = dict(self.module.named_modules())
        layers = [named[n] for n in self.dropout_layers]
        cuda = x.device.type == "cuda"
        with torch.random.fork_rng(devices=[x.device] if cuda else []):
            torch.random.default_generator.manual_seed(int(seed))
            if cuda:
                with torch.cuda.device(x.device):
                    torch.cuda.manual_seed(int(seed))
            try:
                for m in layers:
                    m.train(True)
                out = torch.stack([self._probs(self._call(x)[0], x.shape[-2:]) for _ in range(int(samples))])
            finally:
                for m in layers:
                    m.train(False)
        return out
