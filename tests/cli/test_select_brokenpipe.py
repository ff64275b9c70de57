"""``al-bench-select --list-ids | head``: a reader that stops early ends the listing quietly
(exit 141, as a command killed by SIGPIPE), not with a BrokenPipeError traceback."""

import os
import sys

from PIL import Image

from al_bench.cli.select import main


def test_list_ids_into_a_closed_pipe_exits_quietly(tmp_path, monkeypatch, capsys):
    for i in range(3):
        Image.new("RGB", (8, 8), (i * 80, 0, 0)).save(tmp_path / f"img_{i}.png")
    read_end, write_end = os.pipe()
    os.close(read_end)  # `head` has read what it wanted and exited
    closed = os.fdopen(write_end, "w")
    with capsys.disabled():
        monkeypatch.setattr(sys, "stdout", closed)
        try:
            rc = main(["--images-dir", str(tmp_path), "--list-ids"])
            closed.flush()  # what the interpreter does at exit: must not raise either
        finally:
            monkeypatch.undo()
            closed.close()
    assert rc == 141
