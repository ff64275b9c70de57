import logging

import pytest
from al_bench.data import load_dataset


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_auto_prefers_bdd_then_cifar_then_digits(tmp_path, caplog, write):
    write.bdd(tmp_path / "bdd")
    write.cifar(tmp_path / "cifar")
    with caplog.at_level(logging.INFO):
        assert load_dataset("auto", root=str(tmp_path / "bdd"), cifar_root=str(tmp_path / "cifar"),
                            download=False).name == "bdd100k_weather"
        assert load_dataset("auto", root=str(tmp_path / "nothing"), cifar_root=str(tmp_path / "cifar"),
                            download=False).name == "cifar10"
        ds = load_dataset("auto", root=None, cifar_root=str(tmp_path / "none"), download=False)
    assert ds.name == "digits"
    assert "dataset auto: chose cifar10" in caplog.text and "dataset auto: chose digits" in caplog.text


def test_auto_falls_back_when_the_download_fails(tmp_path, caplog, offline_cifar):
    with caplog.at_level(logging.WARNING):
        ds = load_dataset("auto", data_dir=tmp_path)
    assert ds.name == "digits"
    assert f"CIFAR-10 is not at {tmp_path / 'cifar10'} and could not be downloaded (URLError" in caplog.text
