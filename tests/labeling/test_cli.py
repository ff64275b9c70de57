"""``al-bench-label`` as a command: one server per project, concurrent writers over HTTP."""

import json
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from labeling.colour_folder import CLASSES
from labeling.test_browser import start_server

from al_bench.labeling import LabelingProject

pytestmark = pytest.mark.slow


def post(url, path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-AL-Bench": "1"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_a_second_server_on_the_same_project_is_refused(tmp_path):
    first, url = start_server(tmp_path / "p")
    try:
        second = subprocess.run([str(Path(sys.executable).with_name("al-bench-label")), str(tmp_path / "p"),
                                 "--port", "0"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "another al-bench-label serves this project" in second.stderr
        with urllib.request.urlopen(url + "/api/state", timeout=30) as r:
            assert json.loads(r.read())["setup"] is False  # the first one still serves
    finally:
        first.terminate()
        first.wait(30)


def test_two_tabs_labeling_the_same_images_at_once_leave_a_consistent_project(tmp_path, project):
    ids = project.item_ids(project.items)
    server, url = start_server(project.folder)
    try:
        def tab(label):
            for i in ids:
                post(url, "/api/label", {"item": i, "label": label})

        threads = [threading.Thread(target=tab, args=(c,)) for c in CLASSES[:2]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        server.terminate()
        server.wait(30)
    p = LabelingProject.open(project.folder)
    labels = p.labels
    assert len(labels) == 60 and set(labels.values()) <= set(CLASSES[:2])
    with sqlite3.connect(p.db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT COUNT(*) FROM label_log").fetchone()[0] == 120  # every submission logged
