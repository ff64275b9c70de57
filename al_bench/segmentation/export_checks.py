"""What a ``torch.export`` archive may ask of torch, checked before torch reads it.

``torch.export.load`` would unpickle parts of an archive with ``weights_only=False`` and evaluate
its shape expressions with Python's ``eval``; :func:`check_export_archive` refuses every archive
that asks for that (pickled weights, constants or sample inputs, object constants, the legacy
formats' pickles, compiled AOTInductor code, shape expressions beyond arithmetic) or whose graph
calls anything but tensor operators (or ones that read or write files). Used by
:func:`al_bench.segmentation.loading.load_segmentation_model`; the README lists what is refused.
"""

from __future__ import annotations

import builtins
import io
import json
import keyword
import re
import zipfile
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError

__all__ = ["check_export_archive"]


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


def check_export_archive(path: Path, data: bytes) -> None:
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
