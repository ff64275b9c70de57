"""The app's API against wrong or hostile requests (issue 23): every user error is a 400 (or 404)
with one line, never a 500 with a traceback or a silent mix-up, and no response quotes a file."""

import pytest
from starlette.testclient import TestClient

from al_bench.errors import UserError
from al_bench.labeling.server import Worker, create_app

BASE = "http://127.0.0.1:8765"
H = {"X-AL-Bench": "1"}
JSON = {**H, "Content-Type": "application/json"}


@pytest.fixture
def client(project):
    """The app on the conftest project (set up, 60 images), no background job; server errors
    come back as responses (500) instead of being raised in the test."""
    app = create_app(project, autostart=False)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        c.project = project
        yield c


def post(c, path, body):
    return c.post(path, json=body, headers=H)


def one_line_error(r, status=400) -> str:
    """The response's error message, checked to be ``status`` and one line."""
    assert r.status_code == status, (r.status_code, r.text)
    msg = r.json()["error"]
    assert msg and "\n" not in msg and "\r" not in msg and "Traceback" not in msg, msg
    return msg


def test_only_json_integers_are_item_ids(client):
    """2.9 used to label image 2 and true image 1: floats, booleans, strings and ids beyond
    SQLite's range are refused, and nothing is labeled; an integer id still labels."""
    for item in (2.9, 1.0, True, False, "1", None, [1], {"id": 1}, 2**63, 2**64, -(2**64)):
        one_line_error(post(client, "/api/label", {"item": item, "label": "red"}))
    assert client.project.labels == {}
    i = client.project.item_ids(client.project.items)[1]
    assert post(client, "/api/label", {"item": i, "label": "red"}).status_code == 200
    assert client.project.labels == {client.project.items[1]: "red"}


def test_counts_are_json_integers(client):
    """The batch size (JSON) and a model import's class count (query string: digits only)."""
    for size in ("6.5", "true", '"6"', "1e400", "6e0"):
        body = '{"name": "colours", "labels": "red,green,blue", "embedder": "pixels", "batch_size": %s}' % size
        r = client.post("/api/setup", content=body.encode(), headers=JSON)
        assert "whole number" in one_line_error(r), size
    assert client.project.settings["batch_size"] == 6  # unchanged
    for classes in ("3.0", "3_0", "%203", "+3", "1" * 30):
        r = client.post(f"/api/import_model?classes={classes}", content=b"junk", headers=H)
        assert "whole number" in one_line_error(r), classes


def test_ids_beyond_sqlites_range_are_not_found(client):
    """Ids in URLs beyond SQLite's 64-bit integers used to be a 500 (OverflowError)."""
    for path in ("/api/image/", "/api/predict/"):
        for number in ("9" * 28, str(2**63), str(2**64 + 1), str(2**63 - 1), "0"):
            one_line_error(client.get(path + number), 404)


def test_a_deeply_nested_body_is_refused(client):
    deep = b'{"item": ' + b"[" * 100_000 + b"]" * 100_000 + b', "label": "red"}'
    assert "nested" in one_line_error(client.post("/api/label", content=deep, headers=JSON))
    deep = b'{"name": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}"
    one_line_error(client.post("/api/checkpoint", content=deep, headers=JSON))


def test_paths_must_be_text_without_nul(client):
    for body in ({"folder": "/tmp/a\0b"}, {"csv_path": "/tmp/a\0b.csv"}, {"folder": ["/tmp"]}, {"folder": 7},
                 {"csv_path": {"p": "/etc"}}, {"csv_text": ["path"]}, {"csv_text": "path\n", "csv_name": 3}):
        msg = one_line_error(post(client, "/api/sources", body))
        assert "text" in msg or "NUL" in msg, (body, msg)
    for body in ({"folder": "~no-such-user-here/x"}, {"csv_path": "~no-such-user-here/x.csv"}):
        assert "no such user" in one_line_error(post(client, "/api/sources", body))
    one_line_error(client.post("/api/sources", content=b'{"folder": "/tmp/\\ud800"}', headers=JSON))
    client.project.add_labels({client.project.items[0]: "red"})
    r = post(client, "/api/export/labels", {"format": "imagefolder", "dest": "/tmp/x\0y", "mode": "link"})
    assert "NUL" in one_line_error(r)


def test_names_must_be_text(client):
    """A list used to become its repr (the label "['red']"); now it is refused."""
    for path, body in [
        ("/api/setup", {"name": "colours", "labels": [["red"], "green", "blue"], "batch_size": 6}),
        ("/api/setup", {"name": ["colours"], "labels": "red,green,blue", "batch_size": 6}),
        ("/api/checkpoint", {"name": 5}), ("/api/restore", {"name": ["x"]}),
        ("/api/label", {"item": 1, "label": ["red"]}),
        ("/api/export/labels", {"format": ["csv"]}),
    ]:
        assert "text" in one_line_error(post(client, path, body)), (path, body)
    assert client.project.classes == ["red", "green", "blue"] and client.project.checkpoints() == []


def test_the_csv_import_never_shows_a_files_content(client, tmp_path):
    """Only .csv files are read by path (before, /etc/passwd's first line came back); one still imports."""
    secret = tmp_path / "notes.txt"
    secret.write_text("TOPSECRET-first-line\nsecond\n")
    for path in (str(secret), "/etc/passwd"):
        msg = one_line_error(post(client, "/api/sources", {"csv_path": path}))
        assert "TOPSECRET" not in msg and "root:" not in msg, msg
    link = tmp_path / "list.csv"
    link.symlink_to(secret)  # a .csv name is not enough: the file it leads to must be a .csv too
    assert "TOPSECRET" not in one_line_error(post(client, "/api/sources", {"csv_path": str(link)}))
    first = client.project.items[0]
    csv = tmp_path / "more.CSV"
    csv.write_text(f"path,label\n{first},red\n")
    r = post(client, "/api/sources", {"csv_path": str(csv)})
    assert r.status_code == 200, r.text
    assert client.project.labels == {first: "red"}


def test_an_internal_error_is_a_500_without_its_text(client, monkeypatch):
    def boom():
        raise RuntimeError("SECRET file content\nline two")

    monkeypatch.setattr(type(client.project), "problems", lambda self: boom())
    msg = one_line_error(client.get("/api/state"), 500)
    assert "SECRET" not in msg and "RuntimeError" in msg


def test_a_failed_jobs_message_does_not_carry_the_exception_text(project):
    w = Worker(project)

    def job(progress):
        raise RuntimeError("SECRET file content")

    w.start("fit", job)
    w.join(30)
    snap = w.snapshot()
    assert snap["state"] == "failed" and "SECRET" not in snap["error"] and "RuntimeError" in snap["error"]


def test_a_user_error_reads_as_one_line(client, monkeypatch):
    def multi(self, name):
        raise UserError("first line\nsecond line")

    monkeypatch.setattr(type(client.project), "checkpoint", multi)
    assert one_line_error(post(client, "/api/checkpoint", {"name": "c"})) == "first line second line"


def test_the_remote_warning_says_what_a_remote_client_can_do():
    from al_bench.labeling.cli import remote_warning

    text = remote_warning("0.0.0.0")
    assert text.count("\n") <= 1 and "0.0.0.0" in text
    for what in ("image", "label", "model file", "CSV", "folder", "export"):
        assert what in text, what


def test_the_page_modules_are_served_as_javascript_whatever_the_system_tables_say(tmp_path):
    """The page is ES modules, refused by a browser unless served as JavaScript (nosniff is on):
    the type does not depend on a machine whose MIME tables map .js to text/plain."""
    import mimetypes

    from al_bench.labeling import LabelingProject
    from al_bench.labeling.server import create_app

    saved = mimetypes.types_map.get(".js")
    mimetypes.add_type("text/plain", ".js")  # as some machines' tables say
    try:
        import importlib

        import al_bench.labeling.server as server

        importlib.reload(server)  # the server states the type when it is loaded
        with TestClient(server.create_app(LabelingProject.open(tmp_path / "p"), autostart=False),
                        base_url="http://127.0.0.1:8765") as c:
            r = c.get("/static/main.js")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
            assert r.headers.get("x-content-type-options") == "nosniff"
    finally:
        if saved:
            mimetypes.add_type(saved, ".js")
        importlib.reload(server)
    assert create_app  # the module-level import stays usable
