"""The app's HTTP API and its serving rules, through Starlette's test client (real app, real
project on disk, real background worker)."""

import io
import os
from pathlib import Path

import pytest
from labeling.colour_folder import CLASSES
from PIL import Image
from starlette.testclient import TestClient

from al_bench.labeling import LabelingProject
from al_bench.labeling.server import MAX_UPLOAD, create_app

BASE = "http://127.0.0.1:8765"
H = {"X-AL-Bench": "1"}


@pytest.fixture
def client(tmp_path):
    p = LabelingProject.open(tmp_path / "proj")
    app = create_app(p)
    with TestClient(app, base_url=BASE) as c:
        c.worker = app.state.worker
        c.project = p
        yield c


def post(c, path, body=None, **kw):
    return c.post(path, json=body if body is not None else {}, headers=H, **kw)


def png(colour=(200, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def set_up(c, folder):
    assert post(c, "/api/sources", {"folder": str(folder[0])}).json()["added"] == 60
    r = post(c, "/api/setup", {"name": "colours", "labels": "red, green\nblue", "strategy": "margin",
                               "batch_size": 6, "embedder": "pixels"})
    assert r.status_code == 200, r.text
    c.worker.join(60)
    return c.get("/api/state").json()


@pytest.mark.slow
def test_setup_label_a_batch_and_the_server_retrains_and_queries_the_next(client, folder):
    truth = folder[1]
    st = set_up(client, folder)
    assert st["setup"] and st["project"]["classes"] == CLASSES and st["job"]["state"] == "idle", st["job"]
    batch = st["batch"]
    assert batch["selection"] == "batch-1" and batch["total"] == 6 and batch["done"] == 0
    assert client.get(f"/api/predict/{batch['items'][0]['id']}").json() == {"top": [], "model_round": None}
    for it in batch["items"]:
        key = client.project.item(it["id"])["key"]
        r = post(client, "/api/label", {"item": it["id"], "label": truth[key]})
        assert r.status_code == 200
    assert r.json()["batch_done"] is True
    client.worker.join(60)
    st = client.get("/api/state").json()
    assert st["job"]["state"] == "idle" and st["batch"]["selection"] == "batch-2" and st["batch"]["strategy"] == "margin"
    assert st["counts"]["labeled"] == 6 and sum(st["per_class"].values()) == 6 and st["model"]["round"] == 1
    top = client.get(f"/api/predict/{st['batch']['items'][0]['id']}").json()
    assert top["model_round"] == 1 and len(top["top"]) == 3 and abs(sum(t["p"] for t in top["top"]) - 1) < 1e-3
    first = st["batch"]["items"][0]["id"]
    post(client, "/api/label", {"item": first, "label": "red"})
    assert post(client, "/api/undo").json() == {"item": first}
    assert client.get("/api/state").json()["batch"]["done"] == 0


def test_bad_input_gets_a_message(client, folder, tmp_path):
    assert post(client, "/api/setup", {"name": "x", "labels": "a, b"}).json()["error"].startswith("add images")
    assert "no such folder" in post(client, "/api/sources", {"folder": str(tmp_path / "nope")}).json()["error"]
    r = post(client, "/api/sources", {"csv_text": "path,colour\n/x.png,red\n", "csv_name": "mine.csv"})
    assert r.status_code == 400 and "unknown: ['colour']" in r.json()["error"]
    set_up(client, folder)
    r = post(client, "/api/label", {"item": 1, "label": "purple"})
    assert r.status_code == 400 and "unknown label" in r.json()["error"]
    r = client.post("/api/import_model?classes=3", content=b"not a model", headers=H)
    assert r.status_code == 400 and "does not load" in r.json()["error"]
    r = client.post("/api/label", content=b"{", headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]


def test_state_changes_need_the_header_and_the_same_origin(client):
    assert client.post("/api/undo", json={}).status_code == 403
    r = client.post("/api/undo", json={}, headers={**H, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    assert client.post("/api/undo", json={}, headers={**H, "Origin": BASE}).status_code == 200
    r = client.post("/api/undo", content=b"{}", headers={**H, "Content-Type": "text/plain"})
    assert r.status_code == 400  # a "simple" cross-site form post cannot be JSON


def test_only_local_host_names_are_served(client):
    assert client.get("/api/state", headers={"Host": "evil.example:8765"}).status_code == 403
    assert client.get("/api/state", headers={"Host": "localhost:8765"}).status_code == 200
    r = client.get("/", headers={"Host": "attacker.test"})
    assert r.status_code == 403


def test_images_are_served_by_id_only_from_the_files_added(client, folder, tmp_path):
    set_up(client, folder)
    p = client.project
    key = p.items[0]
    i = p.item_ids([key])[0]
    r = client.get(f"/api/image/{i}")
    assert r.status_code == 200 and r.content == Path(key).read_bytes() and r.headers["content-type"] == "image/png"
    for bad in ("/api/image/999999", "/api/image/-1", "/api/image/..%2f..%2fproject.sqlite",
                "/api/image/%2e%2e/%2e%2e/etc/passwd", "/static/..%2fproject.py", "/static/../project.py",
                "/api/download/..%2fproject.sqlite", "/api/download/project.sqlite"):
        assert client.get(bad).status_code == 404, bad
    secret = tmp_path / "secret.png"
    secret.write_bytes(png((0, 0, 0)))
    os.unlink(key)
    os.symlink(secret, key)  # swapped for a link after it was added
    assert client.get(f"/api/image/{i}").status_code == 403


def test_uploads_are_size_limited_and_renamed(client):
    r = client.post("/api/upload?name=../../etc/cron.d/x.png", content=png(), headers=H)
    assert r.status_code == 200 and r.json()["added"] == 1
    assert [Path(k).name for k in client.project.items] == ["x.png"]
    r = client.post("/api/upload?name=big.png", content=b"\0" * (MAX_UPLOAD + 1), headers=H)
    assert r.status_code == 413
    r = client.post("/api/upload?name=fake.png", content=b"GIF89a", headers=H)
    assert r.json()["added"] == 0 and r.json()["skipped"][0]["name"] == "fake.png"
    assert len(client.project.items) == 1


@pytest.mark.slow
def test_checkpoint_restore_and_exports_through_the_api(client, folder, tmp_path):
    truth = folder[1]
    st = set_up(client, folder)
    for it in st["batch"]["items"]:
        post(client, "/api/label", {"item": it["id"], "label": truth[client.project.item(it["id"])["key"]]})
    client.worker.join(60)
    assert post(client, "/api/checkpoint", {"name": "six"}).status_code == 200
    it = client.get("/api/state").json()["batch"]["items"][0]
    post(client, "/api/label", {"item": it["id"], "label": "blue"})
    st = post(client, "/api/restore", {"name": "six"}).json()
    assert st["counts"]["labeled"] == 6 and len(st["checkpoints"]) == 2
    out = post(client, "/api/export/model").json()
    r = client.get(out["download"])
    assert r.status_code == 200 and r.content == Path(out["path"]).read_bytes()
    lab = post(client, "/api/export/labels", {"format": "csv"}).json()
    assert client.get(lab["download"]).text.count("\n") == 7
    dest = tmp_path / "folders"
    r = post(client, "/api/export/labels", {"format": "imagefolder", "dest": str(dest), "mode": "link"})
    assert r.status_code == 200 and len(list(dest.rglob("*.png"))) == 6
    r = post(client, "/api/export/labels", {"format": "imagefolder", "dest": str(dest), "mode": "link"})
    assert r.status_code == 400 and "exists already" in r.json()["error"]


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root only)."""
    import subprocess

    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(d)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def test_a_full_disk_refuses_labels_with_a_message_and_keeps_serving(small_disk, folder):
    p = LabelingProject.open(small_disk / "proj")
    p.setup("x", CLASSES, embedder="pixels", batch_size=3)
    p.add_folder(folder[0])
    c = TestClient(create_app(p, autostart=False), base_url=BASE)
    filler = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"\0" * 65536)
    except OSError:
        pass
    os.close(filler)
    item = p.item_ids(p.items)[0]
    r = post(c, "/api/label", {"item": item, "label": "red"})
    assert r.status_code == 503 and "disk is full" in r.json()["error"] and "nothing was saved" in r.json()["error"]
    assert post(c, "/api/checkpoint", {"name": "c"}).status_code == 503
    assert not list((small_disk / "proj" / "checkpoints").iterdir())  # no partial checkpoint
    assert c.get("/api/state").json()["counts"]["labeled"] == 0  # reads still work
    os.unlink(small_disk / "filler")
    assert post(c, "/api/label", {"item": item, "label": "red"}).status_code == 200
    assert p.labels == {p.items[0]: "red"}


def test_work_asked_for_while_a_job_runs_runs_after_it_and_a_hold_keeps_jobs_out(tmp_path):
    import threading
    import time

    from al_bench.errors import UserError
    from al_bench.labeling.server import Worker

    w = Worker(LabelingProject.open(tmp_path / "p"))
    gate, ran = threading.Event(), []
    assert w.start("a", lambda progress: gate.wait(30) and "a done")
    assert not w.start("b", lambda progress: ran.append("b") or "b done", queue=True)  # queued
    assert not w.start("c", lambda progress: ran.append("c") or "c done")  # refused, not queued
    with pytest.raises(UserError, match="a job is running"):
        with w.hold("restore"):
            pass
    gate.set()
    w.join(30)
    assert ran == ["b"] and w.snapshot()["message"] == "b done"
    with w.hold("restore"):
        assert not w.start("d", lambda progress: ran.append("d") or "d", queue=True)
        time.sleep(0.1)
        assert ran == ["b"]  # nothing runs during the hold
    w.join(30)
    assert ran == ["b", "d"]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_restart_mid_batch_does_not_refit(client, folder):
    from al_bench.labeling.server import advance

    truth = folder[1]
    st = set_up(client, folder)
    for it in st["batch"]["items"]:
        post(client, "/api/label", {"item": it["id"], "label": truth[client.project.item(it["id"])["key"]]})
    client.worker.join(60)
    it = client.get("/api/state").json()["batch"]["items"][0]
    post(client, "/api/label", {"item": it["id"], "label": "red"})
    advance(client.project, lambda *a: None)  # what a restarted server runs
    assert [r["round"] for r in client.project.rounds()] == [1]  # still the model of batch 1


def test_a_number_too_large_is_a_message_not_a_crash(client, folder):
    post(client, "/api/sources", {"folder": str(folder[0])})
    r = client.post("/api/setup", content=b'{"name": "x", "labels": "a,b", "batch_size": 1e400}',
                    headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 400 and "whole number" in r.json()["error"]


def test_a_failed_import_at_setup_still_starts_labeling(client, folder):
    post(client, "/api/sources", {"folder": str(folder[0])})
    r = post(client, "/api/setup", {"name": "x", "labels": "red,green,blue", "embedder": "pixels", "model": "imported"})
    assert r.status_code == 200 and r.json()["batch"] is None  # waits for the import
    r = client.post("/api/import_model?classes=3", content=b"junk", headers=H)
    assert r.status_code == 400 and "starts with the linear head" in r.json()["error"]
    client.worker.join(60)
    assert client.get("/api/state").json()["batch"]["selection"] == "batch-1"


def test_state_never_shows_a_finished_job_beside_the_batch_it_replaced(tmp_path, folder, monkeypatch):
    """The job's state is read before the project: a job that ends while /api/state reads the
    batch shows as running (the page polls again), never idle beside the old batch."""
    import threading

    p = LabelingProject.open(tmp_path / "proj")
    p.setup("x", CLASSES, embedder="pixels", batch_size=3)
    app = create_app(p, autostart=False)
    c = TestClient(app, base_url=BASE)
    worker, release = app.state.worker, threading.Event()
    assert worker.start("query", lambda progress: release.wait(30) and "the next batch")
    real = p.last_selection

    def read_then_finish():  # the batch is read, then the job ends before the response is built
        out = real()
        release.set()
        worker.join(30)
        return out

    monkeypatch.setattr(p, "last_selection", read_then_finish)
    st = c.get("/api/state").json()
    assert worker.snapshot()["state"] == "idle"  # the job did end during the request
    assert st["job"]["state"] == "running"
