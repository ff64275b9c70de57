"""Hostile segmentation model files (issue 23): a torch.export archive that asks torch to unpickle
or evaluate parts of it is refused before torch reads it, through the loader, al-bench-select and
a labeling project's query; non-finite weights are refused by every loader. Each hostile archive is
a real ``torch.export.save`` of a one-conv model with members rewritten; its payload would create
a marker file, which must not exist afterwards."""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from al_bench.errors import UserError
from al_bench.segmentation.provider import load_segmentation_model, run_provider

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")

MARK = "PWNED_marker"  # the file a payload would create; messages must not echo it (they never show content)


class OneConv(nn.Module):
    """A 1 × 1 conv from RGB to 2 classes: the smallest segmentation network."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.c(x)


class OpensForWriting:
    """Unpickled, calls open(path, "w"): what a hostile payload does, harmlessly."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A real torch.export.save of OneConv, traced for (1, 3, 8, 8)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("export") / "clean.pt2"
    torch.export.save(torch.export.export(OneConv().eval(), (torch.randn(1, 3, 8, 8),)), path)
    return path


def rewrite(src: Path, dst: Path, replace: dict | None = None, add: dict | None = None, top: dict | None = None,
            drop: tuple = ()) -> Path:
    """A copy of the archive ``src`` with members (paths below its top folder) replaced (bytes, or a
    function of the old bytes), added or dropped, and ``top`` members added at the zip's top level."""
    replace, add, top = replace or {}, add or {}, top or {}
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        root = zi.namelist()[0].split("/", 1)[0]
        for info in zi.infolist():
            rel = info.filename.split("/", 1)[1]
            if rel in drop:
                continue
            data = zi.read(info)
            if rel in replace:
                data = replace[rel](data) if callable(replace[rel]) else replace[rel]
            zo.writestr(info, data)
        for rel, data in add.items():
            zo.writestr(f"{root}/{rel}", data)
        for name, data in top.items():
            zo.writestr(name, data)
    return dst


def _program(edit):
    """A replacement for models/model.json: ``edit`` changes the parsed program in place."""
    def apply(raw: bytes) -> bytes:
        doc = json.loads(raw)
        edit(doc["graph_module"]["graph"])
        return json.dumps(doc).encode()
    return apply


def _with_pickled_weight(evil: bytes) -> dict:
    def config(raw: bytes) -> bytes:
        doc = json.loads(raw)
        doc["config"]["c.weight"]["use_pickle"] = True
        return json.dumps(doc).encode()
    return {"replace": {"data/weights/model_weights_config.json": config, "data/weights/weight_0": evil}}


def _with_constant(path_name: str, evil: bytes) -> dict:
    config = {"config": {"k": {"path_name": path_name, "is_param": False, "use_pickle": True, "tensor_meta": None}}}
    return {"replace": {"data/constants/model_constants_config.json": json.dumps(config).encode()},
            "add": {f"data/constants/{path_name}": evil}}


def _legacy_format(clean: Path, evil: bytes) -> dict:
    """torch.export's old (2.7) format at the zip's top level, which torch.export.load falls back to."""
    from torch._export.serde.schema import SCHEMA_VERSION

    with zipfile.ZipFile(clean) as z:
        program = z.read(f"{clean.stem}/models/model.json")
    return {"drop": ("archive_format",),  # torch's current-format reader fails (RuntimeError), so it falls back
            "add": {"serialized_exported_program.json": program},  # what tells al_bench it is an export archive
            "top": {"version": ".".join(map(str, SCHEMA_VERSION)).encode(), "serialized_exported_program.json": program,
                    "serialized_state_dict.pt": evil, "serialized_constants.pt": evil,
                    "serialized_example_inputs.pt": evil}}


def _shape_expression(marker: Path) -> dict:
    """An input size given as a symbolic expression that calls open(marker, 'w') under sympify's eval."""
    text = "open(" + "+".join(f"chr({ord(ch)})" for ch in str(marker)) + ", chr(119))"

    def edit(graph):
        graph["tensor_values"]["x"]["sizes"][2] = {"as_expr": {"expr_str": text, "hint": {"as_int": 8}}}
    return {"replace": {"models/model.json": _program(edit)}}


def _file_op(marker: Path) -> dict:
    """A graph node torch.ops.aten.from_file(marker, shared=True): it creates the file on every run."""
    def edit(graph):
        meta = json.loads(json.dumps(graph["tensor_values"]["p_c_bias"]))
        meta.update(requires_grad=False, sizes=[{"as_int": 4}])
        graph["tensor_values"]["ff"] = meta
        graph["nodes"].insert(0, {"target": "torch.ops.aten.from_file.default", "name": "ff", "metadata": {},
                                  "inputs": [{"name": "filename", "arg": {"as_string": str(marker)}, "kind": 1},
                                             {"name": "shared", "arg": {"as_bool": True}, "kind": 1},
                                             {"name": "size", "arg": {"as_int": 4}, "kind": 1}],
                                  "outputs": [{"as_tensor": {"name": "ff"}}], "is_hop_single_tensor_return": None})
    return {"replace": {"models/model.json": _program(edit)}}


def _twice(clean: Path, evil: bytes) -> dict:
    """The weights config a second time under the same name (zip readers differ on which they take)."""
    with zipfile.ZipFile(clean) as z:
        config = json.loads(z.read(f"{clean.stem}/data/weights/model_weights_config.json"))
    config["config"]["c.weight"].update(use_pickle=True, path_name="weight_9")
    return {"add": {"data/weights/model_weights_config.json": json.dumps(config).encode(),
                    "data/weights/weight_9": evil}}


# variant → (how to build it from (clean, evil pickle, marker), what the refusal says)
HOSTILE = {
    "use_pickle_weight": (lambda c, e, m: _with_pickled_weight(e), "unpickle a weight"),
    "use_pickle_constant": (lambda c, e, m: _with_constant("tensor_0", e), "unpickle a constant"),
    "opaque_obj_constant": (lambda c, e, m: _with_constant("opaque_obj_0", e), "pickled object constant"),
    "custom_obj_constant": (lambda c, e, m: _with_constant("custom_obj_0", e), "pickled object constant"),
    "legacy_serialized_pt": (lambda c, e, m: _legacy_format(c, e), "old torch.export format"),
    "legacy_weights_pt": (lambda c, e, m: {"add": {"data/weights/model.pt": e}}, "legacy pickled form"),
    "sample_inputs_pickle": (lambda c, e, m: {"replace": {"data/sample_inputs/model.pt": e}}, "sample inputs"),
    "shape_expression_eval": (lambda c, e, m: _shape_expression(m), "symbolic shape expression"),
    "file_operator_in_graph": (lambda c, e, m: _file_op(m), "tensor operators"),
    "aotinductor_library": (lambda c, e, m: {"add": {"data/aotinductor/model/model.so": b"\x7fELF"}}, "AOTInductor"),
    "member_named_twice": (lambda c, e, m: _twice(c, e), "names a member twice"),
}


def hostile(clean: Path, folder: Path, variant: str) -> tuple[Path, Path, str]:
    """(archive, marker, reason) for one hostile variant, written under ``folder``."""
    marker = folder / MARK
    build, reason = HOSTILE[variant]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        parts = build(clean, pickle.dumps(OpensForWriting(marker)), marker)
        path = rewrite(clean, folder / f"evil_{variant}.pt2", **parts)
    return path, marker, reason


def assert_refused(exc: BaseException, path: Path, reason: str, marker: Path) -> None:
    msg = str(exc)
    assert "\n" not in msg and str(path) in msg and reason in msg, msg
    assert MARK not in msg.replace(str(path), "")  # the payload is not echoed
    assert not marker.exists(), "the file's payload ran"


# -- the loader -----------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", sorted(HOSTILE))
def test_hostile_export_is_refused_before_torch_runs_anything(clean, tmp_path, variant):
    path, marker, reason = hostile(clean, tmp_path, variant)
    with pytest.raises(UserError) as err:
        model = load_segmentation_model(path)
        run_provider(model, np.zeros((1, 8, 8, 3), np.uint8), progress=False)  # a graph may act when it runs
    assert_refused(err.value, path, reason, marker)


def test_clean_export_still_loads_and_scores(clean):
    model = load_segmentation_model(clean)
    out = run_provider(model, np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8), progress=False)
    assert model.kind == "export" and out.scores.shape == (2,) and np.isfinite(out.scores).all()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_export_with_dynamic_shapes_passes_the_expression_check(tmp_path):
    """Symbolic sizes are written as sympy srepr (Symbol('s0', integer=True, positive=True), Mul, …):
    the check lets that arithmetic through."""
    path = tmp_path / "dynamic.pt2"
    batch, height = torch.export.Dim("batch", min=1, max=8), torch.export.Dim("height", min=1, max=64)
    program = torch.export.export(OneConv().eval(), (torch.randn(2, 3, 16, 8),),
                                  dynamic_shapes={"x": {0: batch, 2: 8 * height}})
    torch.export.save(program, path)
    with zipfile.ZipFile(path) as z:
        assert b"expr_str" in z.read(f"{path.stem}/models/model.json")
    out = run_provider(load_segmentation_model(path), np.zeros((3, 24, 8, 3), np.uint8), progress=False)
    assert out.scores.shape == (3,)


# -- the command and the project ------------------------------------------------------------------
def _images(folder: Path) -> Path:
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"im{i}.png")
    return folder


def test_al_bench_select_refuses_a_pickled_weight_in_one_line(clean, tmp_path, capsys):
    from al_bench.cli.select import main

    path, marker, reason = hostile(clean, tmp_path, "use_pickle_weight")
    rc = main(["--images-dir", str(_images(tmp_path / "images")), "-n", "1", "--task", "segmentation", "--model",
               str(path), "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]  # the command says what it scanned first; the error is one line, at the end
    assert rc == 2 and last.startswith("al-bench-select: error:") and "Traceback" not in err, err
    assert_refused(Exception(last), path, reason, marker)


def test_a_projects_query_and_select_project_refuse_a_pickled_constant(clean, tmp_path, capsys):
    from al_bench.cli.select import main
    from al_bench.labeling import LabelingProject

    path, marker, reason = hostile(clean, tmp_path, "opaque_obj_constant")
    project = LabelingProject.open(tmp_path / "proj")
    project.setup("shades", ["dark", "light"], embedder="pixels")
    project.add_folder(_images(tmp_path / "images"))
    with pytest.raises(UserError) as err:
        project.query("uncertainty", 1, segmentation_model=path)
    assert_refused(err.value, path, reason, marker)
    rc = main(["--project", str(tmp_path / "proj"), "-n", "1", "--task", "segmentation", "--model", str(path),
               "--out", str(tmp_path / "out")])
    err_text = capsys.readouterr().err.strip()
    last = err_text.splitlines()[-1]
    assert rc == 2 and last.startswith("al-bench-select: error:") and "Traceback" not in err_text, err_text
    assert_refused(Exception(last), path, reason, marker)


# -- non-finite weights ---------------------------------------------------------------------------
def _nan_conv() -> OneConv:
    net = OneConv().eval()
    with torch.no_grad():
        net.c.weight[0, 0, 0, 0] = float("nan")
    return net


def test_export_with_nan_weights_is_refused(tmp_path):
    path = tmp_path / "nan.pt2"
    torch.export.save(torch.export.export(_nan_conv(), (torch.randn(1, 3, 8, 8),)), path)
    with pytest.raises(UserError, match="NaN or infinite") as err:
        load_segmentation_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_torchscript_with_infinite_weights_is_refused(tmp_path):
    path = tmp_path / "inf.pt"
    net = OneConv().eval()
    with torch.no_grad():
        net.c.bias[1] = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(net), path)
    with pytest.raises(UserError, match="NaN or infinite") as err:
        load_segmentation_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("arch", [None, "lraspp_mobilenet_v3_large"])
def test_state_dict_with_nan_weights_is_refused_before_the_network_is_built(tmp_path, arch):
    path = tmp_path / "nan_state.pt"
    torch.save(_nan_conv().state_dict(), path)
    with pytest.raises(UserError, match="NaN or infinite") as err:
        load_segmentation_model(path, arch=arch)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
