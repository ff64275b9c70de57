"""``al-bench-select --task segmentation --model``: a randomly initialized torchvision network
saved to a file runs on a generated folder, for every recipe, through the command."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from al_bench.cli.select import main
from al_bench.segmentation.select import SEGMENTATION_STRATEGIES


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    import torchvision

    root = tmp_path_factory.mktemp("seg")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        img[24:] //= 3  # a darker "road" half
        Image.fromarray(img).save(images / f"frame {i:02d}.png")
    torch.manual_seed(0)
    net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3)
    torch.save(net.state_dict(), root / "seg.pt")
    (root / "labeled.csv").write_text("id\nframe 00.png\nframe 01.png\n")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("strategy", SEGMENTATION_STRATEGIES)
def test_every_recipe_runs_the_model_and_hands_off(street, strategy, tmp_path, capsys):
    out = tmp_path / "sel"
    args = ["--images-dir", str(street / "images"), "-n", "3", "--task", "segmentation", "--model",
            str(street / "seg.pt"), "--arch", "lraspp_mobilenet_v3_large", "--strategy", strategy,
            "--labeled", str(street / "labeled.csv"), "--embedder", "pixels", "--cache-dir", str(street / "cache"),
            "--out", str(out), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    df = pd.read_csv(out / "selection.csv")
    assert len(df) == 3 and df["id"].is_unique and not set(df["id"]) & {"frame 00.png", "frame 01.png"}
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["strategy"] == f"segmentation:{strategy}" and hand["params"]["arch"] == "lraspp_mobilenet_v3_large"
    if strategy in ("uncertainty", "hybrid", "uncertainty_coreset", "alges", "alges_coreset"):
        assert df["score"].notna().all()  # the picks' uncertainty
    if strategy == "uncertainty":  # the most uncertain three, in order
        assert df["score"].is_monotonic_decreasing
    assert (out / "mosaic.png").stat().st_size > 0


@pytest.mark.slow
def test_the_second_run_reads_the_models_outputs_from_the_cache(street, tmp_path, capsys):
    args = ["--images-dir", str(street / "images"), "-n", "2", "--task", "segmentation", "--model",
            str(street / "seg.pt"), "--arch", "lraspp_mobilenet_v3_large", "--cache-dir", str(tmp_path / "cache"),
            "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "cached at" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "from cache" in capsys.readouterr().err
    assert (tmp_path / "a" / "selection.csv").read_text() == (tmp_path / "b" / "selection.csv").read_text()


def test_bad_segmentation_flags_are_one_line_errors_before_any_image_is_read(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "a.png")
    model = tmp_path / "seg.pt"
    model.write_bytes(b"not read: every check below comes first")
    base = ["--images-dir", str(images), "-n", "2", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--model", str(model)]) == 2
    assert "--model is for --task segmentation" in capsys.readouterr().err
    seg = [*base, "--task", "segmentation", "--model", str(model), "--arch", "lraspp_mobilenet_v3_large"]
    assert main([*seg, "--strategy", "badge"]) == 2
    assert "segmentation recipes are" in capsys.readouterr().err
    assert main([*base, "--task", "segmentation", "--model", str(tmp_path / "nope.pt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([*seg, "--strategy", "uncertainty_coreset", "--param", "weight=2"]) == 2
    assert "weight=2.0: give a number in [0, 1]" in capsys.readouterr().err
    assert main([*seg, "--predictions", str(model)]) == 2
    assert "--model runs the network" in capsys.readouterr().err
    assert main([*seg, "--image-size", "12xq"]) == 2
    assert "--image-size 12xq" in capsys.readouterr().err
    assert main([*seg, "--scorer-param", "topk_fraction=abc"]) == 2
    assert "--scorer-param topk_fraction=abc" in capsys.readouterr().err
    assert main([*seg, "--scorer-param", "reduce=bogus"]) == 2
    assert "--scorer-param" in capsys.readouterr().err
    assert main([*seg, "--strategy", "alges", "--param", "first=bogus"]) == 2
    assert "first=bogus" in capsys.readouterr().err
    assert main([*seg, "--strategy", "kcenter", "--embedder", "bogus"]) == 2
    assert "--embedder bogus" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*seg, "--device", "cuda"]) == 2
        assert "--device cuda: CUDA is not available here" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_model_without_dropout_refuses_mc_dropout_in_one_line(street, tmp_path, capsys):
    args = ["--images-dir", str(street / "images"), "-n", "2", "--task", "segmentation", "--model",
            str(street / "seg.pt"), "--arch", "lraspp_mobilenet_v3_large", "--provider", "bald",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "dropout" in err and "Traceback" not in err and not (tmp_path / "o").exists()
