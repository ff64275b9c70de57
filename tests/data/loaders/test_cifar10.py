import pytest

from al_bench.data import load_dataset, make_split
from al_bench.errors import UserError


def test_cifar10_reads_the_official_python_format(tmp_path, write):
    batches = write.cifar(tmp_path / "c")
    ds = load_dataset("cifar10", root=str(tmp_path / "c"))
    assert ds.name == "cifar10" and ds.images.shape == (40, 32, 32, 3) and ds.class_names == write.cifar_names
    assert ds.is_test.sum() == 10 and ds.is_test[-10:].all()
    data, labels = batches["data_batch_2"]
    # row-major CHW planes → HWC: pixel (r, c) of channel k is data[k*1024 + r*32 + c]
    img = ds.images[6]
    assert img[3, 5, 1] == data[0, 1024 + 3 * 32 + 5] and ds.labels[6] == labels[0]
    assert ds.ids[0] == "cifar10:train:00000" and ds.ids[-1] == "cifar10:test:00009"
    split = make_split(ds.labels, 0, 0.2, 0.1, ds.is_test)
    assert split.test.tolist() == list(range(30, 40))


def test_cifar10_absent_offline_says_where_and_what_to_do(tmp_path, offline_cifar):
    with pytest.raises(UserError) as e:
        load_dataset("cifar10", root=str(tmp_path / "none"))
    msg = str(e.value)
    assert "cifar-10-batches-py" in msg and str(tmp_path / "none") in msg and "dataset.download=true" in msg
    assert "dataset=digits" in msg and "\n" not in msg
    with pytest.raises(UserError, match=r"download into .* failed \(URLError"):
        load_dataset("cifar10", root=str(tmp_path / "none"), download=True)


def test_a_damaged_batch_is_named(tmp_path, write):
    write.cifar(tmp_path / "c")
    (tmp_path / "c" / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match=r"data_batch_3: not a CIFAR-10 python-format batch \(UnpicklingError"):
        load_dataset("cifar10", root=str(tmp_path / "c"))


def test_download_command_prints_one_line(tmp_path, write, offline_cifar, capsys):
    from al_bench.data.__main__ import main

    assert main(["download-cifar10", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("setup: offline or download failed (URLError: ") and out.count("\n") == 1
    write.cifar(tmp_path / "c")
    assert main(["download-cifar10", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out == f"setup: CIFAR-10 is at {tmp_path / 'c'}\n"
