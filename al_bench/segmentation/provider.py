"""The segmentation model provider: run the user's network on candidate images and keep, per image,
an uncertainty score, ALGES embeddings and a pooled feature vector — never the maps themselves.

A model comes from a file (:func:`load_segmentation_model`) or from Python
(:class:`SegmentationModel` around an ``nn.Module``, a TorchScript module or a
``torch.export`` program):

- a ``torch.export`` program (``torch.export.save``), a TorchScript file (``torch.jit.save``) or
  a state dict (``torch.save(model.state_dict())``) of a torchvision segmentation architecture
  named by ``arch``. Files are told apart by their content, not their extension.
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

:func:`run_provider` scores images with ``provider`` ``entropy`` (pixel entropy of one
deterministic pass), ``mc_dropout`` (pixel entropy of the mean of K passes with only the dropout
layers in train mode, BatchNorm staying in eval) or ``bald`` (per-pixel mutual information of
the K passes), each reduced to one number per image by :func:`~al_bench.task_scores.reduce_map`.
ALGES embeddings and pooled features always come from the deterministic pass.

Outputs are cached like the embeddings (:mod:`al_bench.embedders.cache`): one entry per model
file's sha256, architecture, options, provider settings and the images' fingerprint, under
``<cache_dir>/segmentation/``.

What a model file may do (the trust boundary): only a state dict with ``arch`` is plain data
(``torch.load(weights_only=True)``). A TorchScript file is a program: ``torch.jit.load`` runs its
TorchScript code — a scripted ``__setstate__`` at load, ``forward`` on every batch — which
cannot import Python modules but can call any operator registered in the process, file-writing
ones included (``torch.save`` is ``aten::save``); load only TorchScript files you trust. A
``torch.export`` archive is a program too, and ``torch.export.load`` would unpickle parts of it
with ``weights_only=False`` and evaluate its shape expressions with Python's ``eval``; so before
torch reads one, :func:`_check_export_archive` refuses every archive that asks for that (pickled
weights, constants or sample inputs, object constants, the legacy formats' pickles, compiled
AOTInductor code, shape expressions beyond arithmetic) or whose graph calls anything but tensor
operators (or ones that read or write files). Every loader refuses NaN or infinite parameters.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import io
import json
import keyword
import logging
import re
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..data.images import ImageFiles, Images, load_rgb
from ..embedders import cache
from ..embedders.weights import file_sha256, pick_device
from ..errors import UserError
from ..task_scores import pixel_uncertainty, reduce_map

log = logging.getLogger(__name__)

__all__ = ["PROVIDERS", "IMAGENET_MEAN", "IMAGENET_STD", "SegmentationModel", "Inference", "SegmentationOutputs",
           "load_segmentation_model", "segmentation_archs", "run_provider", "batch_seed"]

PROVIDERS = ("entropy", "mc_dropout", "bald")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_KINDS = ("torchvision", "torchscript", "export", "module")
_DROPOUT_NAMES = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
_CACHE_NAME = "segmentation provider"  # how cache warnings name these entries
# Modules the cached values go through besides this one (hashed into the cache key, so an edit
# there recomputes them): scores, image decoding, the cache itself; ALGES when asked for.
_CODE_MODULES = ("al_bench.embedders.cache", "al_bench.task_scores", "al_bench.scores", "al_bench.data.images")


# -- loading ------------------------------------------------------------------------------------
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


# -- what a model file may ask of torch -----------------------------------------------------------
# torch.export.load (torch/export/__init__.py, torch/export/pt2_archive/_package.py,
# torch/_export/serde/serialize.py) runs code from the archive in these places, each refused below:
# - weights or tensor constants whose payload config says "use_pickle": torch.load(weights_only=False);
# - constants stored as custom_obj_* (torchbind pickle) or opaque_obj_* (pickle.loads);
# - legacy data/weights/<model>.pt, data/constants/<model>.pt and the old format's serialized_* members
#   (and data/sample_inputs/<model>.pt in every archive): torch.load that falls back to
#   weights_only=False when the safe load fails;
# - data/aotinductor/: compiled AOTInductor code, a native library torch loads;
# - symbolic shape expressions ("expr_str"): sympy.sympify, which is Python's eval;
# - graph nodes and operator arguments: any callable under torch, operator or math (the verifier
#   stops most, not the aten operators that create files).
_REFUSED_NOTE = "loading it could run code from the file"
# Names a symbolic shape expression may call or name besides symbols (s0, u1, …): torch writes
# them with sympy's srepr (Add(Symbol('s0', integer=True), Integer(-1))), and its deserializer
# passes its own sympy functions (FloorDiv, …) as locals.
_SYM_NAMES = frozenset({
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv",
    "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator",
    "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity",
    "Add", "Mul", "Pow", "Symbol", "Integer", "Rational", "Float", "Max", "Min", "Abs", "floor", "ceiling",
    "Equality", "Unequality", "StrictLessThan", "LessThan", "StrictGreaterThan", "GreaterThan",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "Xor", "ITE", "Piecewise", "ExprCondPair",
    "sqrt", "exp", "log", "sign", "oo", "zoo", "nan", "pi", "E", "I", "true", "false", "True", "False"})
# One token of such an expression: a number (no attribute or string may follow it), a keyword
# argument's name, a name (not a string prefix such as f'…'), a quoted string without escapes,
# an operator.
_SYM_TOKEN = re.compile(r"\s+|(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.'\"])"
                        r"|(?P<kw>[A-Za-z][A-Za-z0-9_]*)\s*=(?!=)"
                        r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?!['\"])"
                        r"|'(?P<sq>[^'\\]*)'|\"(?P<dq>[^\"\\]*)\""
                        r"|\*\*|//|<<|>>|<=|>=|==|!=|[-+*/%<>()&|~^,]")
# What a string in it may hold: a symbol's name (Symbol('s0')) or a number (Float('1.5')). sympy
# parses strings given to some functions (Max('…')) with eval too, so nothing more.
_SYM_STRING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
# Graph targets torch serializes outside torch.ops: shape arithmetic (the export verifier's list).
_PLAIN_OPS = frozenset({f"_operator.{n}" for n in (
    "getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs", "eq", "ne", "lt", "le",
    "gt", "ge", "and_", "or_", "not_", "xor", "lshift", "rshift")}
    | {f"math.{n}" for n in ("ceil", "floor", "trunc", "sqrt")}
    | {f"torch.sym_{n}" for n in ("not", "int", "float", "ite", "max", "min", "sqrt", "sum")})
_OP_NAMESPACES = ("aten", "prims", "higher_order", "torchvision", "quantized_decomposed")
_FILE_OPS = frozenset({"save", "from_file"})  # aten operators that write or create files
_OP_PATH = re.compile(r"torch\.ops\.([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*)?")


def _sym_name_ok(name: str) -> bool:
    """Whether sympify may see ``name``: a known math name, or one that names nothing in the
    namespace its eval runs in (Python's builtins, sympy's ``*``), so it becomes a plain symbol."""
    if name in _SYM_NAMES:
        return True
    if name.startswith("_") or keyword.iskeyword(name) or hasattr(builtins, name):
        return False
    import sympy

    return not hasattr(sympy, name)


def _sym_expr_ok(text: Any) -> bool:
    """Whether a symbolic shape expression is arithmetic on symbols and numbers alone: no
    attributes, brackets, strings beyond names and numbers, or names that eval would resolve to
    Python objects."""
    if not isinstance(text, str):
        return False
    pos = 0
    while pos < len(text):
        m = _SYM_TOKEN.match(text, pos)
        if m is None:
            return False
        name = m.group("name")
        string = m.group("sq") if m.group("sq") is not None else m.group("dq")
        if name is not None and not _sym_name_ok(name):
            return False
        if string is not None:
            if not _SYM_STRING.fullmatch(string):
                return False
            if (string[0].isalpha() or string[0] == "_") and not _sym_name_ok(string):  # a name, not a number
                return False
        pos = m.end()
    return True


def _operator_ok(target: Any) -> bool:
    """Whether a graph target (or operator argument) names a tensor operator, not a file one, or
    shape arithmetic. torch resolves names starting with ``torch``, ``_operator`` or ``math`` by
    getattr; anything else it leaves a string that no node can call."""
    if not isinstance(target, str):
        return False
    if target in _PLAIN_OPS:
        return True
    m = _OP_PATH.fullmatch(target)
    if m is not None:
        namespace, op = m.groups()
        return namespace in _OP_NAMESPACES and not op.startswith("__") \
            and not (namespace == "aten" and op in _FILE_OPS)
    return not target.startswith(("torch", "_operator", "math"))


def _json_member(raw: bytes) -> Any:
    """A member's JSON, or a ValueError."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not JSON") from None


def _program_refusal(raw: bytes) -> str | None:
    """Why a serialized program (``models/<name>.json``) is refused, or None."""
    try:
        doc = _json_member(raw)
    except ValueError:
        return "its program (models/…) is not JSON"
    stack = [doc]
    while stack:  # iterative: a deeply nested document must not exhaust the recursion limit
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr_str" and not _sym_expr_ok(value):
                    return ("a symbolic shape expression in its program is more than arithmetic on symbols, and torch "
                            f"evaluates those with Python's eval; {_REFUSED_NOTE}")
                if key in ("target", "as_operator") and not _operator_ok(value):
                    return ("its graph calls something other than tensor operators (ATen, prims, higher-order ops) and "
                            "shape arithmetic, or an operator that reads or writes files; al_bench runs only graphs "
                            "of tensor operators")
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return None


def _payload_config_refusal(raw: bytes, constants: bool) -> str | None:
    """Why a weights or constants payload config (``data/*/<name>_*_config.json``) is refused, or None."""
    what = "constant" if constants else "weight"
    try:
        doc = _json_member(raw)
    except ValueError:
        return f"its {what}s config (data/…/*_config.json) is not JSON"
    entries = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        return f"its {what}s config (data/…/*_config.json) is not a payload config"
    for entry in entries.values():
        name = entry.get("path_name")
        if isinstance(name, str) and name.lower().startswith(("custom_obj_", "opaque_obj_")):
            return ("it holds a pickled object constant (custom_obj_*, opaque_obj_*), which torch unpickles; "
                    + _REFUSED_NOTE)
        if entry.get("use_pickle"):  # torch tests the value's truth, so any true value asks for pickle
            return f"it asks torch to unpickle a {what} (use_pickle in its {what}s config); {_REFUSED_NOTE}"
    return None


def _sample_inputs_refusal(raw: bytes) -> str | None:
    """Why ``data/sample_inputs/<name>.pt`` is refused, or None: torch loads it with weights_only=True
    and, when that fails, again with weights_only=False; a file the safe load reads never gets there."""
    import torch

    if not raw:
        return None  # torch reads an empty record as no inputs
    try:
        torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure would send torch to its unsafe retry
        return ("its sample inputs (data/sample_inputs/…) are not plain tensors, and torch would unpickle them with "
                f"weights_only=False; {_REFUSED_NOTE}")
    return None


def _member_refusal(rel: str, read: Callable[[], bytes]) -> str | None:
    """Why one archive member (``rel``: its path below the archive's top folder) is refused, or None."""
    low = rel.lower()  # torch's zip reader finds names regardless of case
    base = low.rsplit("/", 1)[-1]
    if low.startswith("data/aotinductor/"):
        return ("it holds AOTInductor compiled code (data/aotinductor/), a native library torch would load; "
                "al_bench loads only exported graphs")
    if base.startswith("serialized_") and base != "serialized_exported_program.json":
        return ("it holds members of the old torch.export format (serialized_*), which torch unpickles with "
                f"weights_only=False; {_REFUSED_NOTE}; save it again with torch.export.save")
    if low.startswith(("data/weights/", "data/constants/")):
        if base.endswith(".pt"):
            return ("it holds weights or constants in the legacy pickled form (data/weights/*.pt, "
                    f"data/constants/*.pt), which torch unpickles with weights_only=False; {_REFUSED_NOTE}")
        if base.startswith(("custom_obj_", "opaque_obj_")):
            return ("it holds a pickled object constant (custom_obj_*, opaque_obj_*), which torch unpickles; "
                    + _REFUSED_NOTE)
        if base.endswith("config.json"):
            return _payload_config_refusal(read(), low.startswith("data/constants/"))
    if low.startswith("data/sample_inputs/"):
        return _sample_inputs_refusal(read())
    if low.startswith("models/") or base == "serialized_exported_program.json":
        return _program_refusal(read())
    return None


def _check_export_archive(path: Path, data: bytes) -> None:
    """Refuse (UserError naming ``path``, one line, no content of the file) a torch.export archive
    that would have ``torch.export.load`` run code from it (see the list above), before torch reads it.

    Members are read as each of torch's two loaders reads them: its own zip reader (the current
    format) and Python's zipfile (the old format it falls back to), so a zip that the two would
    read differently cannot show one of them a harmless member.
    """
    def refuse(why: str) -> UserError:
        return UserError(f"{path}: not loaded: {why}")

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if len({n.lower() for n in names}) != len(names):
                raise refuse("the zip archive names a member twice, which zip readers may resolve to different "
                             "members")
            for info in infos:
                rel = info.filename.split("/", 1)[1] if "/" in info.filename else info.filename
                why = _member_refusal(rel, lambda info=info: z.read(info))
                if why is None and rel != info.filename:  # a top-level name the old format reads as it is
                    why = _member_refusal(info.filename, lambda info=info: z.read(info))
                if why is not None:
                    raise refuse(why)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - bad zip directory, damaged or unsupported compression (zlib.error, …)
        raise refuse(f"not a readable zip archive ({type(exc).__name__})") from None
    import torch

    if not hasattr(torch._C, "PyTorchFileReader"):  # fail closed: a torch whose reader cannot be asked
        raise refuse(f"this torch ({torch.__version__}) has no archive reader al_bench can check an export with; "
                     "give a state dict with --arch instead")
    try:  # torch's reader: the names and bytes torch.export.load's current-format loader reads
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        records = list(reader.get_all_records())
    except Exception:  # noqa: BLE001 - torch's reader cannot open it, so that loader reads nothing
        return
    for rel in records:
        why = _member_refusal(rel, lambda rel=rel: reader.get_record(rel))
        if why is not None:
            raise refuse(why)


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
        raise UserError(f"{path}: not a torch file ({_first_line(exc)})") from None
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


def _last_conv(module, n_classes: int) -> str | None:
    """Name of the last nn.Conv2d (registration order) with ``n_classes`` outputs, not under ``aux*``."""
    from torch import nn

    found = None
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d) and m.out_channels == n_classes \
                and not any(part.startswith("aux") for part in name.split(".")):
            found = name
    return found


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
        name = _last_conv(probe, 21)
        w = sd.get(f"{name}.weight") if name else None
        num_classes = int(w.shape[0]) if w is not None and w.ndim == 4 else 21
    try:
        net = builder(num_classes=int(num_classes), **kwargs)
    except Exception as exc:  # noqa: BLE001 - bad num_classes and the like
        raise UserError(f"{path}: cannot build {arch}(num_classes={num_classes}) ({_first_line(exc)})") from None
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
        raise UserError(f"{path}: the state dict does not load into {arch} ({_first_line(exc)})") from None
    return net.eval(), int(num_classes)


def _device(device: str) -> str:
    """:func:`pick_device`, its error worded for this module's ``device`` option."""
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{{device}}={device}: CUDA is not available here; use auto or cpu", refs={"device": "device"})
    return pick_device(device)


def load_segmentation_model(path: str | Path, arch: str | None = None, num_classes: int | None = None,
                            device: str = "cpu", hook_layer: str | None = None) -> "SegmentationModel":
    """Load a segmentation network from ``path``.

    Without ``arch``: a ``torch.export`` program (``torch.export.load(path).module()``, once
    :func:`_check_export_archive` has found nothing in it that would run code) or a TorchScript
    file (``torch.jit.load``, which runs the file's TorchScript: trust the file). With ``arch``
    (a name from :func:`segmentation_archs`): ``path`` is a state dict for
    ``torchvision.models.segmentation.<arch>(weights=None, weights_backbone=None,
    num_classes=num_classes)``, loaded strictly; ``num_classes`` defaults to what the state
    dict's classifier has. ``hook_layer`` names the layer whose inputs are the
    last layer's inputs (default: see the module docstring). NaN or infinite parameters are
    refused. Every failure is a UserError that names the file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    kind = _sniff(p)
    dev = _device(device)
    digest = file_sha256(p)  # before reading: the weights loaded are the bytes hashed (barring a write in between)
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

        data = p.read_bytes()  # checked and loaded from the same bytes: no rewrite in between
        _check_export_archive(p, data)
        try:
            program = torch.export.load(io.BytesIO(data))  # a buffer: torch accepts any extension without complaint
        except Exception as exc:  # noqa: BLE001 - damaged archives, version mismatches
            raise UserError(f"{p}: cannot load the torch.export program ({_first_line(exc)})") from None
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
            raise UserError(f"{p}: cannot load the TorchScript file ({_first_line(exc)})") from None
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
    """A segmentation network ready for :func:`run_provider`.

    ``module``: an ``nn.Module``, a TorchScript module or a ``torch.export`` program (or its
    ``.module()``); ``kind`` is found from it unless given (``torchvision`` for
    :func:`load_segmentation_model`'s builds). ``source`` is the file it came from (its sha256
    keys the cache); ``num_classes`` is checked against the output when given.
    """

    def __init__(self, module: Any, *, kind: str | None = None, source: str | Path | None = None,
                 arch: str | None = None, num_classes: int | None = None, hook_layer: str | None = None,
                 device: str = "cpu", sha256: str | None = None) -> None:
        import torch

        self.device = _device(device)
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
            raise UserError(f"{self.name}: cannot move the model to {self.device} ({_first_line(exc)})") from None
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
                            f"({_first_line(exc)})") from None
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
        name = _last_conv(self.module, self._classes)
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


# -- running ------------------------------------------------------------------------------------
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
        raise UserError(f"{images.path(i)}: unreadable image ({_first_line(exc)})") from None
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
            raise UserError(f"{_name(images, int(i))}: unreadable image ({_first_line(exc)})") from None
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

    if provider not in PROVIDERS:
        raise UserError(f"{{provider}}={provider}: choose one of {', '.join(PROVIDERS)}", refs={"provider": "provider"})
    try:
        reduce_map(np.zeros(1), reduce, topk_fraction)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if provider != "entropy":
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
    mc = provider != "entropy"
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
    code_modules = [*_CODE_MODULES, *(["al_bench.segmentation.alges"] if variants else [])]
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
                        _CACHE_NAME, path, _first_line(exc))
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
    method = "bald" if provider == "bald" else "entropy"
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
                if provider == "entropy":
                    maps = inf.probs.cpu().numpy()
                else:
                    samples = model.mc_probs(x, mc_samples, batch_seed(seed, idx[0]))  # (K, B, C, H, W)
                    maps = samples.cpu().numpy().swapaxes(0, 1)
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
