"""Model files the labeling app imports (issue 23): a file whose weights hold NaN or infinite
values is refused at import with a one-line error, instead of becoming the current model whose
every prediction is NaN (a server error per request)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from al_bench.errors import UserError
from al_bench.labeling.model_file import FORMAT, load_model, read_model_bytes

CLASSES2 = ["cat", "dog"]


def blob(weight, bias, temperature=1.0) -> bytes:
    """The bytes of a model file (the documented format, written with torch.save) with these values."""
    m = {"format": FORMAT, "format_version": 1, "weight": weight, "bias": bias, "temperature": temperature,
         "classes": CLASSES2, "embedder": {"name": "pixels", "options": {}, "dim": 3, "fitted_on": None}}
    buf = io.BytesIO()
    torch.save(m, buf)
    return buf.getvalue()


def finite():
    return torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]), torch.tensor([0.1, -0.1])


def test_a_finite_model_file_still_loads():
    m = read_model_bytes(blob(*finite()))
    probs = m.predict_proba(np.ones((4, 3), np.float32))
    assert probs.shape == (4, 2) and np.isfinite(probs).all()


def _nan_weight():
    w, b = finite()
    w[1, 2] = float("nan")
    return w, b


def _inf_bias():
    w, b = finite()
    b[0] = float("inf")
    return w, b


def _neg_inf_weight():
    w, b = finite()
    w[0, 0] = float("-inf")
    return w, b


def _float64_overflow():
    w, b = finite()
    w = w.double()
    w[0, 1] = 1e300  # finite as float64, inf in the float32 the head computes in
    return w, b


@pytest.mark.parametrize("make", [_nan_weight, _inf_bias, _neg_inf_weight, _float64_overflow],
                         ids=["nan_weight", "inf_bias", "neg_inf_weight", "float64_overflow"])
def test_non_finite_weights_are_refused_in_one_line(make):
    with pytest.raises(UserError, match="NaN or infinite") as err:
        read_model_bytes(blob(*make()), "upload.pt")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("upload.pt: ")


def test_load_model_names_the_file_it_refuses(tmp_path):
    path = tmp_path / "nan.pt"
    path.write_bytes(blob(*_nan_weight()))
    with pytest.raises(UserError, match="NaN or infinite") as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_temperature_that_is_no_number_is_a_user_error():
    with pytest.raises(UserError, match="temperature must be a positive number") as err:
        read_model_bytes(blob(*finite(), temperature="warm"))
    assert "\n" not in str(err.value)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_project_refuses_to_import_nan_weights_and_keeps_its_model(project, folder):
    """The import path: the project keeps its fitted model and its predictions stay finite."""
    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::2]})
    project.fit()
    before = project.model_info()
    keys, _ = project.features()
    want = project.predict(keys)
    raw = torch.load(project.export_model()["path"], weights_only=True)
    raw["weight"][0, 0] = float("nan")
    buf = io.BytesIO()
    torch.save(raw, buf)
    with pytest.raises(UserError, match="NaN or infinite") as err:
        project.import_model(buf.getvalue(), len(project.classes))
    assert "\n" not in str(err.value)
    assert project.model_info() == before
    got = project.predict(keys)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want)
