"""Fixtures: a folder of colour-coded images and a project on it."""

import pytest
from labeling.colour_folder import CLASSES, make_folder


@pytest.fixture
def folder(tmp_path):
    truth = make_folder(tmp_path / "images")
    return tmp_path / "images", truth


@pytest.fixture
def project(tmp_path, folder):
    from al_bench.labeling import LabelingProject

    p = LabelingProject.open(tmp_path / "proj")
    p.setup("colours", CLASSES, strategy="least_confidence", batch_size=6, embedder="pixels")
    p.add_folder(folder[0])
    return p
