"""Run files: CSV cells read back as written (ids with \r and \n), atomic writes."""

import csv
import io
import signal

import pandas as pd
import pytest

from al_bench.runfiles import csv_text, write_csv


def test_ids_with_carriage_returns_and_newlines_read_back_unchanged(tmp_path):
    ids = ["plain.jpg", "cr\rname.jpg", "nl\nname.jpg", 'quote"name.jpg', "comma,name.jpg"]
    df = pd.DataFrame({"rank": range(1, 6), "id": ids, "score": [0.5, 0.25, 0.125, 1.0, 2.0]})
    write_csv(df, tmp_path / "s.csv")
    back = pd.read_csv(tmp_path / "s.csv")
    assert back["id"].tolist() == ids and len(back) == 5
    rows = list(csv.reader(io.StringIO((tmp_path / "s.csv").read_bytes().decode("utf-8"), newline="")))
    assert [r[1] for r in rows[1:]] == ids


def test_ordinary_frames_keep_unix_line_ends():
    text = csv_text(pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}))
    assert text == "id,x\na,1\nb,2\n"


def test_files_get_the_permissions_the_umask_allows(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
        assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        os.umask(0o002)
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "y.csv")
        assert (tmp_path / "y.csv").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_keys_added_later_keep_old_run_ids_at_their_default():
    """budget.initial_strategy / per_class and strategy.sampling / beta at their defaults leave the
    ids as they were before those keys existed; any other value is another run and group."""
    from al_bench.runfiles import comparison_id, config_id, strategy_id

    old = {"dataset": {"name": "digits"}, "budget": {"name": "smoke", "initial": 20},
           "strategy": {"name": "entropy", "params": {}}, "seed": 0}
    new = {**old, "budget": {**old["budget"], "initial_strategy": "random", "per_class": None},
           "strategy": {**old["strategy"], "sampling": "topk", "beta": 1.0}}
    for f in (config_id, comparison_id, strategy_id):
        assert f(new) == f(old), f.__name__
    cold = {**new, "budget": {**new["budget"], "initial_strategy": "typiclust"}}
    assert config_id(cold) != config_id(new) and comparison_id(cold) != comparison_id(new)
    power = {**new, "strategy": {**new["strategy"], "sampling": "power"}}
    assert strategy_id(power) != strategy_id(new) and comparison_id(power) == comparison_id(new)


@pytest.mark.parametrize("sig, raised", [(signal.SIGTERM, "Interrupted"), (signal.SIGINT, "KeyboardInterrupt")])
def test_a_signal_inside_a_file_write_takes_effect_after_it(tmp_path, sig, raised):
    """A SIGTERM arriving inside np.savez raised there and left zipfile half-closed, which raised
    its own ValueError over it: the run ended 'failed' instead of 'interrupted'. Now the file is
    written whole, then the signal is raised."""
    import os

    import numpy as np

    from al_bench.interrupts import Interrupted, catch_signals
    from al_bench.runfiles import atomic_write

    def write(f):
        os.kill(os.getpid(), sig)  # delivered at the next bytecode, in the middle of the write
        np.savez(f, a=np.arange(100_000))

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    catch_signals()
    try:
        with pytest.raises((Interrupted, KeyboardInterrupt)) as exc:
            atomic_write(tmp_path / "ckpt.npz", write)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    assert type(exc.value).__name__ == raised
    assert np.load(tmp_path / "ckpt.npz")["a"].sum() == np.arange(100_000).sum()  # whole, in place
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary left


def test_a_csv_is_read_only_when_it_reads_back_whole(tmp_path):
    """read_csv_strict: cells with quoted line ends read as written; a cut file, a short row, a
    missing column or an empty identity cell is a DamagedFile naming the file (pandas alone
    fills a short last row with NaN and reads on)."""
    from al_bench.runfiles import DamagedFile, read_csv_strict

    ids = ["plain.jpg", "cr\rname.jpg", "nl\nname.jpg", "comma,name.jpg"]
    write_csv(pd.DataFrame({"id": ids, "n": [1, 2, 3, 4]}), tmp_path / "s.csv")
    assert read_csv_strict(tmp_path / "s.csv", ("id",), ("id", "n"))["id"].tolist() == ids
    text = (tmp_path / "s.csv").read_bytes()
    for damaged, message in [(text[:-4], "s.csv: cut short (the last line has no line end)"),
                             (text + b"x\r\n", "s.csv: row 5 has 1 cells, the header 2"),
                             (text.split(b"\r\n")[0] + b"\r\n", "s.csv: no rows"),
                             (text.replace(b"plain.jpg", b""), "s.csv: id is empty in row(s) 1")]:
        (tmp_path / "s.csv").write_bytes(damaged)
        with pytest.raises(DamagedFile) as exc:
            read_csv_strict(tmp_path / "s.csv", ("id",), ("id", "n"))
        assert str(exc.value) == message
    (tmp_path / "s.csv").write_bytes(text)
    with pytest.raises(DamagedFile, match=r"^s\.csv: no column label$"):
        read_csv_strict(tmp_path / "s.csv", ("id", "label"))


def test_checksums_name_the_file_that_changed_or_went_missing(tmp_path):
    from al_bench.runfiles import checksum_problem, file_checksums

    write_csv(pd.DataFrame({"budget": [0.1]}), tmp_path / "curve.csv")
    write_csv(pd.DataFrame({"pool_position": [3]}), tmp_path / "selected.csv")
    (tmp_path / "notes.txt").write_text("not a run file")
    status = {"status": "ok", "sha256": file_checksums(tmp_path)}
    assert sorted(status["sha256"]) == ["curve.csv", "selected.csv"]
    assert checksum_problem(tmp_path, status) is None
    assert checksum_problem(tmp_path, {"status": "ok"}) is None  # written before checksums: not checked
    (tmp_path / "curve.csv").write_text("budget\n0.2\n")
    assert checksum_problem(tmp_path, status).startswith("curve.csv: not the file the run wrote")
    (tmp_path / "selected.csv").unlink()
    status["sha256"].pop("curve.csv")
    assert checksum_problem(tmp_path, status) == "selected.csv: missing (status.json vouches for it)"
    assert checksum_problem(tmp_path, {"sha256": "abc"}).startswith("status.json: its sha256 field")


def test_ids_and_hashes_read_back_as_the_text_written(tmp_path):
    """A hex id of digits and one "e" is a float to pandas, one of digits alone an integer: run
    files read them back as written, so two configurations are never confused or merged."""
    from al_bench.runfiles import read_csv_strict

    path = tmp_path / "curve.csv"
    path.write_text("strategy,comparison_id,config_id,split_hash,budget,accuracy\n"
                    "margin,53318165e138,012345678901,1e5,0.1,0.5\n")
    row = read_csv_strict(path).iloc[0]
    assert [row["comparison_id"], row["config_id"], row["split_hash"]] == ["53318165e138", "012345678901", "1e5"]
    assert row["budget"] == 0.1 and row["accuracy"] == 0.5
