"""``al-bench-select --project DIR``: the project's query from the command line."""

import pandas as pd
import pytest

from al_bench.cli.select import main
from al_bench.labeling import LabelingProject


@pytest.mark.slow
def test_select_on_a_project_keeps_the_selection_in_it(project, folder, tmp_path, capsys):
    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::6]})
    project.fit()
    out = tmp_path / "sel"
    assert main(["--project", str(project.folder), "-n", "5", "--strategy", "margin", "--selection-name", "cli pick",
                 "--out", str(out)]) == 0
    again = LabelingProject.open(project.folder)
    sel = again.selection("cli pick")
    df = pd.read_csv(out / "selection.csv")
    assert list(df["id"]) == list(sel.ids) and len(sel.ids) == 5 and sel.strategy == "margin"
    assert again.added_set == list(sel.ids) and not set(sel.ids) & set(again.labels)
    assert sel.model_round == 1 and "kept in" in capsys.readouterr().err


def test_flags_the_project_supplies_are_refused(project, tmp_path, capsys):
    assert main(["--project", str(project.folder), "-n", "5", "--images-dir", str(tmp_path)]) == 2
    assert "--images-dir: the project supplies" in capsys.readouterr().err
    assert main(["--project", str(tmp_path / "nothing"), "-n", "5"]) == 2
    assert "no labeling project" in capsys.readouterr().err
    assert main(["-n", "5"]) == 2
    assert "--images-dir: give the folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_segmentation_recipe_picks_from_a_project_with_a_model_file(project, tmp_path, capsys):
    import torch
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3)
    torch.save(net.state_dict(), tmp_path / "seg.pt")
    project.add_labels({project.items[0]: "red"})
    sel = project.query("alges_coreset", 4, segmentation_model=tmp_path / "seg.pt",
                        segmentation={"arch": "lraspp_mobilenet_v3_large", "image_size": 64})
    assert sel.strategy == "segmentation:alges_coreset" and len(sel.ids) == 4 and project.items[0] not in sel.ids
    assert project.selection(sel.name).params["segmentation_model"] == str(tmp_path / "seg.pt")
    out = tmp_path / "sel"
    assert main(["--project", str(project.folder), "-n", "3", "--task", "segmentation", "--model",
                 str(tmp_path / "seg.pt"), "--arch", "lraspp_mobilenet_v3_large", "--image-size", "64",
                 "--strategy", "uncertainty_coreset", "--out", str(out)]) == 0, capsys.readouterr().err
    last = LabelingProject.open(project.folder).last_selection()
    assert last.strategy == "segmentation:uncertainty_coreset"
    assert list(pd.read_csv(out / "selection.csv")["id"]) == list(last.ids)
