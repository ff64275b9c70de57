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


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_project_without_a_model_is_fitted_first_and_handed_off_like_a_folder(project, folder, tmp_path, capsys):
    """The refit policy the app uses, from the command: 30 labels and no model, --strategy margin
    fits one and picks with it; the picks go through the folder's sinks."""
    import yaml

    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[:30]})
    assert project.model() is None
    out = tmp_path / "sel"
    assert main(["--project", str(project.folder), "-n", "4", "--strategy", "margin", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    again = LabelingProject.open(project.folder)
    sel = again.last_selection()
    assert sel.model_round == again.model_info()["round"] == 1 and "fitted the project's model on 30" in \
        capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "label_studio.json", "mosaic.png", "selection.csv", "selection.yaml"]
    hand = yaml.safe_load((out / "selection.yaml").read_text())
    assert hand["ids"] == list(sel.ids) and hand["source"]["project"] == str(project.folder)
    assert hand["params"]["rng"] == f"al_bench.rng.stream(0, 'query', {len(again.selections())})"
    tasks = __import__("json").loads((out / "label_studio.json").read_text())
    assert [t["data"]["al_bench_id"] for t in tasks] == list(sel.ids)
    assert all(t["data"]["image"].startswith("/data/local-files/?d=") and "//" not in t["data"]["image"]
               for t in tasks)
    # each task carries the picking model's prediction: as data fields and as a pre-annotation
    probs = again.predict(list(sel.ids))  # round 1, the model that picked
    classes = again.settings["classes"]
    assert [t["data"]["al_bench_prediction"] for t in tasks] == [classes[k] for k in probs.argmax(1)]
    assert [t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks] == [[classes[k]] for k in
                                                                                      probs.argmax(1)]
    assert [t["predictions"][0]["score"] for t in tasks] == [t["data"]["al_bench_score"] for t in tasks]
    # the same policy mid-batch: the batch's model stays
    project2 = LabelingProject.open(project.folder)
    project2.add_labels({sel.ids[0]: truth[sel.ids[0]]})
    assert project2.batch_open() and project2.refit_if_needed() is None


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_project_query_replays_through_al_bench_select(project, folder):
    """The stream a project query uses is the one the README names: the query's own pick, and
    al_bench.select with the project's model on that stream, are the same."""
    import numpy as np

    import al_bench
    from al_bench.rng import stream

    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::3]})
    project.fit()
    keys, x = project.features()
    lab = set(project.labels)
    is_lab = np.array([k in lab for k in keys])
    head = project.model().head()
    q = project.query("margin", 5)
    k = len(project.selections())
    replay = al_bench.select(keys, x, 5, "margin", labeled=is_lab, model=head, rng=stream(0, "query", k))
    assert q.ids == replay.ids and q.params["rng"] == f"al_bench.rng.stream(0, 'query', {k})"
    given = project.query("margin", 5, seed=7)
    lab = set(project.labels)  # the first query's picks are unlabeled still: candidates again
    again = al_bench.select(keys, x, 5, "margin", labeled=np.array([kk in lab for kk in keys]), model=head, rng=7)
    assert given.ids == again.ids


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_project_query_balances_on_the_project_s_own_labels(project, folder, tmp_path, capsys):
    """class_balance on a project: the model stays the project's; the labels it counts are the
    project's current ones; the same picks as al_bench.select with both, on the query's stream."""
    import numpy as np

    import al_bench
    from al_bench.rng import stream

    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::3]})
    project.fit()
    keys, x = project.features()
    labels = project.labels
    is_lab = np.array([k in labels for k in keys])
    head = project.model().head()
    q = project.query("margin", 6, class_balance="predicted")
    k = len(project.selections())
    replay = al_bench.select(keys, x, 6, "margin", labeled=[kk for kk in keys if kk in labels],
                             labels=[labels[kk] for kk in keys if kk in labels], model=head,
                             class_balance="predicted", rng=stream(0, "query", k))
    plain = al_bench.select(keys, x, 6, "margin", labeled=is_lab, model=head, rng=stream(0, "query", k))
    assert q.ids == replay.ids != plain.ids and q.params["class_balance"] == "predicted"
    out = tmp_path / "sel"
    assert main(["--project", str(project.folder), "-n", "4", "--strategy", "margin", "--class-balance", "fallback",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert LabelingProject.open(project.folder).last_selection().params["class_balance"] == "fallback"


def test_a_label_studio_root_that_cannot_serve_the_project_fails_before_the_query(project, tmp_path, capsys):
    before = len(project.selections())
    root = project.images_root()
    for doc_root, words in ((tmp_path / "elsewhere", f"the project's images folder {root} is not under it"),
                            (root, f"the project's images folder {root} is the document root itself")):
        rc = main(["--project", str(project.folder), "-n", "3", "--strategy", "kcenter", "--out", str(tmp_path / "o"),
                   "--label-studio-document-root", str(doc_root)])
        err = capsys.readouterr().err
        assert rc == 2 and words in err, err
    assert len(LabelingProject.open(project.folder).selections()) == before and not (tmp_path / "o").exists()
