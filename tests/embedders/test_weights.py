"""Weights files and the hub: errors name the key to set, in one line."""

import numpy as np
import pytest
import torch

from al_bench.embedders import embed, weights
from al_bench.errors import UserError


def test_dinov2_without_weights_offline_names_both_options(offline_hub, stripes):
    imgs, _ = stripes(2)
    with pytest.raises(UserError) as err:
        embed(imgs, np.arange(2), "dinov2_vits14", "fp", None, 0)
    msg = str(err.value)
    assert "embedder.weights=PATH" in msg and "hub cache" in msg and "\n" not in msg
    assert msg.startswith("embedder: cannot load the weights of vit_small_patch14_dinov2.lvd142m: ")
    assert msg.endswith("or use embedder=kmeans_patches (offline)")
    # the selection command words the same error with its own flags
    flags = {"embedder": "--embedder", "embedder.weights": "--embedder-opt weights"}
    worded = err.value.worded(flags.get)
    assert "--embedder-opt weights=PATH" in worded and "use --embedder=kmeans_patches" in worded
    assert "embedder.weights" not in worded and worded.startswith("--embedder: cannot load")
    with pytest.raises(UserError, match="embedder.weights: no such file"):
        embed(imgs, np.arange(2), "dinov2_vits14", "fp", None, 0, weights="/nonexistent/w.pth")


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_wrong_weights_file_is_a_user_error(tmp_path, offline_hub, stripes):
    path = tmp_path / "wrong.pth"
    torch.save({"foo": torch.zeros(3)}, path)
    with pytest.raises(UserError, match="does not fit") as err:
        embed(stripes(2)[0], np.arange(2), "dinov2_vits14", "fp", None, 0, image_size=28, weights=str(path))
    assert str(err.value).startswith(f"embedder.weights={path}: does not fit vit_small_patch14_dinov2.lvd142m (")


def test_sizes_and_devices_are_checked(dinov2_file, monkeypatch, stripes):
    with pytest.raises(UserError) as err:
        embed(stripes(2)[0], np.arange(2), "dinov2_vits14", "fp", None, 0, image_size=4, weights=str(dinov2_file[1]))
    assert str(err.value) == "embedder.image_size=4, embedder.batch_size=64: need >= 8 and >= 1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert weights.pick_device("auto") == "cpu" and weights.pick_device("cpu") == "cpu"
    with pytest.raises(UserError) as err:
        weights.pick_device("cuda:1")
    assert str(err.value) == "embedder.device=cuda:1: CUDA is not available here; use device=auto or cpu"


def test_file_sha256_is_the_file_hash(tmp_path):
    import hashlib

    p = tmp_path / "w.bin"
    p.write_bytes(b"abc" * 1000)
    assert weights.file_sha256(p) == hashlib.sha256(b"abc" * 1000).hexdigest()
    p.write_bytes(b"abcd" * 1000)  # a rewritten file (new size) is hashed again
    assert weights.file_sha256(p) == hashlib.sha256(b"abcd" * 1000).hexdigest()


def test_unknown_model_names_the_model_key(offline_hub):
    with pytest.raises(UserError) as err:
        weights.weights_file("not_a_timm_model_{x}", None)
    assert str(err.value) == ("embedder.model=not_a_timm_model_{x}: timm knows no hub weights for it; "
                              "give embedder.weights=PATH")
