"""The web server of ``al-bench-label``: a JSON API over a :class:`LabelingProject` and the
static page that drives it (``static/``, no build step).

Starlette (on uvicorn) because it is small, maintained, typed, serves files with correct
range/caching behaviour and runs plain ``def`` endpoints in a thread pool, so a slow request
never blocks the others; long work (embedding, fitting, querying) runs on one background
worker thread whose progress the page polls.

Safety rules (tests: ``tests/labeling/test_server.py``):

- Only the Host names of the address served are accepted (DNS rebinding); state changes
  (every POST) need the ``X-AL-Bench: 1`` header, which a cross-origin page cannot send
  without a CORS preflight this server never approves, and an ``Origin``, when sent, equal to
  the page's own.
- Image bytes come only from the files recorded when they were added, looked up by integer id
  (no path in any URL); a file since replaced by a link elsewhere is refused.
- Uploads: at most ``MAX_UPLOAD`` bytes each; names sanitized (:func:`.project.safe_file_name`).
- Request values are checked before use (tests: ``tests/labeling/test_hostile_server.py``): ids and
  counts are JSON integers (2.9 or true is refused, not rounded), within SQLite's 64-bit range;
  names and paths are strings, paths without NUL; a JSON body nests at most ``MAX_DEPTH`` deep. A
  CSV is read by path only when it is a ``.csv`` file, so no other file's first line can come
  back in an error.
- Every error is one line of JSON: 400 for the user's mistakes; a 500 names only the exception's
  type (its text, which may quote a file, goes to the server's log).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
import sqlite3
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import UserError
from .project import DEFAULT_AUDIT_FRACTION, DEFAULT_STRATEGY, LabelingProject

# the page is ES modules, which a browser runs only when served as JavaScript (nosniff is on);
# Starlette guesses the type from the system's tables, which map .js to text/plain on some machines
mimetypes.add_type("text/javascript", ".js")

log = logging.getLogger("al_bench.label")

__all__ = ["create_app", "Worker", "MAX_UPLOAD", "STATIC"]

MAX_UPLOAD = 20 * 2**20
MAX_JSON = 2**20
STATIC = Path(__file__).with_name("static")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id overflows in the query (a 500)
MAX_DEPTH = 32  # JSON nesting; the page sends at most 2 (a list of labels in an object)
MAX_ERROR = 1000  # characters of an error message


class Worker:
    """One background thread for the long jobs; its state is what the page shows."""

    def __init__(self, project: LabelingProject) -> None:
        self.project = project
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"kind": None, "state": "idle", "message": "", "progress": None, "error": None}
        self._thread: threading.Thread | None = None
        self._again: tuple[str, Callable] | None = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.state)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self.state["state"] == "running"

    def start(self, kind: str, fn: Callable[[Callable[[str, float | None], None]], str], queue: bool = False) -> bool:
        """Run ``fn(progress)`` in the background unless a job runs; False when one does. With
        ``queue`` it then runs once the current job ends (one waiting job: the latest asked for)."""
        with self._lock:
            if self.state["state"] == "running":
                if queue:
                    self._again = (kind, fn)
                return False
            self.state = {"kind": kind, "state": "running", "message": "starting", "progress": 0.0, "error": None,
                          "started": time.time()}

        def progress(msg: str, frac: float | None = None) -> None:
            with self._lock:
                self.state["message"] = msg
                self.state["progress"] = frac

        def run() -> None:
            try:
                msg = fn(progress)
                with self._lock:
                    self.state.update(state="idle", message=msg or "done", progress=1.0,
                                      seconds=round(time.time() - self.state["started"], 2))
            except UserError as exc:
                with self._lock:
                    self.state.update(state="failed", error=_one_line(str(exc)), message="failed")
            except Exception as exc:  # shown in the page: its type only (the text may quote a file); the log has it all
                log.error("job %s failed:\n%s", kind, traceback.format_exc())
                with self._lock:
                    self.state.update(state="failed", error=_internal(exc), message="failed")

        def run_then_next() -> None:
            run()
            with self._lock:
                again, self._again = self._again, None
            if again is not None:
                self.start(*again, queue=True)

        self._thread = threading.Thread(target=run_then_next, name=f"al-bench-label {kind}", daemon=True)
        self._thread.start()
        return True

    @contextmanager
    def hold(self, kind: str) -> Iterator[None]:
        """Run the caller's work (a restore, a setup) as the job: no background job starts
        meanwhile, and none may be running when it begins."""
        with self._lock:
            if self.state["state"] == "running":
                raise UserError("a job is running; try again when it ends")
            self.state = {"kind": kind, "state": "running", "message": kind, "progress": None, "error": None,
                          "started": time.time()}
        try:
            yield
        finally:
            with self._lock:
                self.state.update(state="idle", message=f"{kind} done", progress=1.0)
                again, self._again = self._again, None
            if again is not None:
                self.start(*again, queue=True)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current job and any queued after it."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            t = self._thread
            if t is None:
                return
            t.join(None if deadline is None else max(0.0, deadline - time.time()))
            if t is self._thread or (deadline is not None and time.time() >= deadline):
                return


def advance(project: LabelingProject, progress) -> str:
    """Bring the project to its next batch: features, a fit when the labels changed since the
    last model (and span 2 classes), then the next batch if the last one is done."""
    rep = project.refit_if_needed(progress)
    if rep is not None:
        progress(f"retrained on {rep.n_labeled} labels in {rep.fit_seconds:.1f} s", 1.0)
    sel = project.next_batch(progress)
    if sel is None:
        return "every image is labeled" if not project.unlabeled_set else "batch in progress"
    return f"{sel.name}: {len(sel.ids)} image(s) picked by {sel.strategy}"


def _error(msg: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": _one_line(msg)}, status_code=status)


def _one_line(msg: str) -> str:
    """``msg`` on one line (line breaks → spaces), at most ``MAX_ERROR`` characters."""
    msg = " ".join(msg.splitlines())
    return msg if len(msg) <= MAX_ERROR else msg[: MAX_ERROR - 1] + "…"


def _internal(exc: BaseException) -> str:
    """What a client learns of a bug: the exception's type, not its text (which may quote a file)."""
    return f"internal error ({type(exc).__name__}); the server's log has the details"


def create_app(project: LabelingProject, allowed_hosts: tuple[str, ...] | None = LOCAL_HOSTS,
               autostart: bool = True) -> Starlette:
    """The app for ``project``. ``allowed_hosts``: host names the Host header may carry (any
    port); None accepts any (a server bound to a network address on purpose)."""
    from ..embedders import EMBEDDERS
    from ..strategies import STRATEGIES

    worker = Worker(project)
    hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    def host_ok(request: Request) -> bool:
        if hosts is None:  # served on a network address on purpose (--host): any name of it
            return True
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.lower() in hosts

    async def guard(scope, receive, send, app):
        request = Request(scope)
        if not host_ok(request):
            return await _error("unknown Host header (serving only local names)", 403)(scope, receive, send)
        if request.method not in ("GET", "HEAD"):
            if request.headers.get("x-al-bench") != "1":
                return await _error("state changes need the X-AL-Bench: 1 header (cross-site request refused)",
                                    403)(scope, receive, send)
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1].lower() != request.headers.get("host", "").lower():
                return await _error("cross-origin request refused", 403)(scope, receive, send)
        return await app(scope, receive, send)

    class Guard:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.app(scope, receive, send)
            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers += [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                                (b"referrer-policy", b"no-referrer"),
                                (b"content-security-policy",
                                 b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                                 b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")]
                    message = {**message, "headers": headers}
                await send(message)
            return await guard(scope, receive, send_with_headers, self.app)

    # -- helpers -----------------------------------------------------------------------------
    def body_json(request: Request, raw: bytes) -> dict[str, Any]:
        import json

        if not request.headers.get("content-type", "").startswith("application/json"):
            raise UserError("send JSON (Content-Type: application/json)")
        if len(raw) > MAX_JSON:
            raise UserError("request too large")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise UserError("the request body is not valid JSON") from None
        except RecursionError:  # the parser recurses per level: [[[[... a 100,000 deep
            raise UserError(f"the request body is nested too deeply (at most {MAX_DEPTH} levels)") from None
        if not isinstance(data, dict):
            raise UserError("the request body must be a JSON object")
        _check_json(data)
        return data

    def endpoint(fn):
        """A JSON endpoint: UserError → 400 with its message; anything else → 500, logged."""
        async def wrapped(request: Request):
            from starlette.concurrency import run_in_threadpool

            try:
                raw = b""
                if request.method == "POST":
                    raw = await _read_limited(request, MAX_UPLOAD if fn.__name__ in ("upload", "import_model") else MAX_JSON)
                return await run_in_threadpool(fn, request, raw)
            except UserError as exc:
                return _error(str(exc), 400)
            except _TooLarge as exc:
                return _error(str(exc), 413)
            except sqlite3.OperationalError as exc:  # disk full, read-only, locked for 30 s
                log.error("%s %s: database error: %s", request.method, request.url.path, exc)
                return _error(f"cannot write the project database ({exc}); nothing was saved by this request", 503)
            except Exception as exc:
                log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
                return _error(_internal(exc), 500)
        return wrapped

    def start_advance(queue: bool = True) -> bool:
        """The fit-and-next-batch job; asked for while a job runs, it runs after it."""
        return worker.start("query", lambda progress: advance(project, progress), queue=queue)

    # -- state -------------------------------------------------------------------------------
    stop_cache: dict[str, Any] = {}

    def when_to_stop(rounds: list[dict[str, Any]]) -> dict[str, Any]:
        """The forecast and the stop suggestion (al_bench.labeling.stopping), computed once per
        set of rounds (the page polls the state)."""
        from .stopping import suggestion

        key = json.dumps([(r["round"], r["n_labeled"]) for r in rounds])
        if stop_cache.get("key") != key:
            fc = project.forecast() if rounds else None
            stop_cache.update(key=key, value={"forecast": fc, "stop": suggestion([r["kappa"] for r in rounds], fc)})
        return stop_cache["value"]

    def state(request: Request, raw: bytes) -> JSONResponse:
        # the job's state first: a job that ends while the project is read below then shows as
        # running beside its result, never as idle beside the batch it replaced
        job = worker.snapshot()
        s = project.settings
        rounds = project.rounds() if s else []
        labels = project.labels
        last = project.last_selection() if s else None
        batch = None
        if last is not None:
            # changed / earlier_label / revision: an image whose file changed since it was labeled
            # (the page shows a notice and asks for the image by revision, past its cache)
            items = [{k: it[k] for k in ("id", "name", "label", "changed", "earlier_label", "revision")}
                     for it in project.items_info(last.ids)]
            batch = {"selection": last.name, "strategy": last.strategy, "items": items,
                     # a strategy that chooses (auto, tcm) names its choice and why
                     "candidate": last.params.get("candidate"), "reason": last.params.get("reason"),
                     "done": sum(it["label"] is not None for it in items), "total": len(items)}
        n_items = len(project.items)
        model = project.model_info()
        exports = [{**e, "download": f"/api/download/{e['name']}"} for e in project.exports()]
        problems = project.problems()
        return JSONResponse({
            "setup": bool(s),
            "project": None if not s else {"name": s["name"], "classes": s["classes"], "strategy": s["strategy"],
                                           "batch_size": s["batch_size"], "embedder": s["embedder"],
                                           "audit_fraction": s.get("audit_fraction", 0.0),
                                           "embedder_resolved": s.get("embedder_resolved"),
                                           "model": model["kind"] if model else "linear"},
            "strategies": sorted(STRATEGIES), "embedders": sorted(EMBEDDERS),
            "counts": {"items": n_items, "unreadable": len(problems), "labeled": len(labels),
                       "unlabeled": n_items - len(labels)},
            "per_class": project.per_class() if s else {},
            "sources": project.sources(),
            "problems": [{"name": n, "reason": r} for n, r in problems[:50]],
            "batch": batch,
            "job": job,
            "rounds": rounds,
            **when_to_stop(rounds),
            "model": None if model is None else {k: model[k] for k in ("round", "n_labeled", "temperature", "kind",
                                                                        "cv_accuracy", "folds")},
            "checkpoints": project.checkpoints(),
            "exports": exports,
            "version": project.version(),
        })

    # -- setup -------------------------------------------------------------------------------
    def sources(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        if data.get("folder"):
            rep = project.add_folder(_path(data["folder"], "folder"))
        elif data.get("csv_path"):
            rep = project.add_csv(_csv_path(data["csv_path"]))
        elif data.get("csv_text") is not None:
            rep = project.add_csv(text=_text(data["csv_text"], "csv_text"),
                                  name=_text(data.get("csv_name"), "csv_name") or "uploaded.csv")
        else:
            raise UserError("give a folder path, a CSV path or a CSV file")
        if project.is_setup and rep.added:
            start_advance()  # new images change the features (fitted embedders): refit, keep going
        return JSONResponse(rep.as_dict())

    def upload(request: Request, raw: bytes) -> JSONResponse:
        name = request.query_params.get("name", "")
        if not name:
            raise UserError("give the file name (?name=...)")
        rep = project.add_upload(name, raw)
        return JSONResponse(rep.as_dict())

    def setup(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        if not project.items:  # before anything is written
            raise UserError("add images first: a folder, a CSV or uploads")
        labels = data.get("labels", "")
        if isinstance(labels, list):
            labels = [_text(x, "labels") for x in labels]
        else:
            labels = _text(labels, "labels")
        name, batch_size = _text(data.get("name"), "name"), _int(data.get("batch_size", 20), "batch size")
        strategy = _text(data.get("strategy"), "strategy") or DEFAULT_STRATEGY
        embedder = _text(data.get("embedder"), "embedder") or "auto"
        audit = data.get("audit_fraction", DEFAULT_AUDIT_FRACTION)
        if isinstance(audit, bool) or not isinstance(audit, (int, float)):
            raise UserError(f"{_shown(audit)}: give a share from 0 to 0.9", key="audit fraction")
        with worker.hold("setup"):
            project.setup(name, labels, strategy=strategy, batch_size=batch_size, embedder=embedder,
                          audit_fraction=audit)
        if data.get("model") != "imported":  # else the import (next request) starts the first batch
            start_advance()
        return state(request, b"")

    def import_model(request: Request, raw: bytes) -> JSONResponse:
        classes = request.query_params.get("classes")
        if not project.is_setup:
            raise UserError("create the project (its labels) before importing a model for it")
        try:
            rnd = project.import_model(raw, None if not classes else _query_int(classes, "number of classes"),
                                       what="the model file")
        except UserError as exc:
            if project.last_selection() is None:  # set up to wait for this import: go on without it
                start_advance()
                raise UserError(f"{exc}; labeling starts with the linear head on the embeddings (import a model "
                                "file again from the side panel)") from None
            raise
        start_advance()  # the imported model serves the next batch
        return JSONResponse({"ok": True, "round": rnd})

    # -- labeling ----------------------------------------------------------------------------
    def image(request: Request) -> Response:
        if not host_ok(request):
            return _error("unknown Host header", 403)
        item = request.path_params["item"]
        if not 0 < item <= MAX_ID:
            return _error("no such image", 404)
        try:
            path = project.image_file(item)
        except (KeyError, ValueError):
            return _error("no such image", 404)
        except PermissionError as exc:
            return _error(str(exc), 403)
        return FileResponse(path, headers={"cache-control": "private, max-age=3600"})

    def predict(request: Request, raw: bytes) -> JSONResponse:
        item = request.path_params["item"]  # an int: the route's {item:int}
        try:
            if not 0 < item <= MAX_ID:
                raise KeyError(item)
            project.item(item)
        except KeyError:
            return _error("no such image", 404)
        info = project.model_info()
        if info is None or project.model() is None:
            return JSONResponse({"top": [], "model_round": None})
        p = project.predict([item])[0]
        classes = project.classes
        order = p.argsort()[::-1][:5]
        return JSONResponse({"top": [{"label": classes[i], "p": round(float(p[i]), 4)} for i in order],
                             "model_round": info["round"], "model_created": info["created"]})

    def label(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        item = _int(data.get("item"), "item")
        if not 0 < item <= MAX_ID:
            raise UserError(f"{_shown(item)} is not an image of this project", key="item")
        project.add_labels({item: _text(data.get("label"), "label")})
        last = project.last_selection()
        labels = project.labels
        done = last is not None and all(k in labels for k in last.ids)
        if done:
            start_advance()
        return JSONResponse({"ok": True, "batch_done": bool(done)})

    def undo(request: Request, raw: bytes) -> JSONResponse:
        body_json(request, raw)
        last = project.last_selection()
        key = project.undo_last(within=list(last.ids) if last else None)
        return JSONResponse({"item": None if key is None else project.item_ids([key])[0]})

    def retrain(request: Request, raw: bytes) -> JSONResponse:
        body_json(request, raw)
        def job(progress):
            rep = project.fit(progress)
            return f"retrained on {rep.n_labeled} labels in {rep.fit_seconds:.1f} s"
        if not worker.start("fit", job):
            return _error("a job is running; wait for it to end", 409)
        return JSONResponse({"ok": True})

    def next_batch(request: Request, raw: bytes) -> JSONResponse:
        body_json(request, raw)
        if not start_advance(queue=False):
            return _error("a job is running; wait for it to end", 409)
        return JSONResponse({"ok": True})

    # -- checkpoints and export --------------------------------------------------------------
    def checkpoint(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        project.checkpoint(_text(data.get("name"), "name"))
        return state(request, b"")

    def restore(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        with worker.hold("restore"):
            project.restore(_text(data.get("name"), "name"))
        return state(request, b"")

    def export_model(request: Request, raw: bytes) -> JSONResponse:
        body_json(request, raw)
        out = project.export_model()
        return JSONResponse({**out, "download": f"/api/download/{out['name']}"})

    def export_labels(request: Request, raw: bytes) -> JSONResponse:
        data = body_json(request, raw)
        fmt = _text(data.get("format"), "format") or "csv"
        dest = _path(data["dest"], "dest") if fmt == "imagefolder" and data.get("dest") else None
        out = project.export_labels(fmt, dest=dest, mode=_text(data.get("mode"), "mode") or "copy")
        dl = f"/api/download/{out['name']}" if fmt != "imagefolder" else None
        return JSONResponse({**out, "download": dl})

    def download(request: Request) -> Response:
        if not host_ok(request):
            return _error("unknown Host header", 403)
        try:
            path = project.export_file(request.path_params["name"])
        except KeyError:
            return _error("no such export", 404)
        return FileResponse(path, filename=path.name)

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    api = [("/api/state", state, "GET"), ("/api/predict/{item:int}", predict, "GET"),
           ("/api/sources", sources, "POST"), ("/api/upload", upload, "POST"), ("/api/setup", setup, "POST"),
           ("/api/import_model", import_model, "POST"), ("/api/label", label, "POST"), ("/api/undo", undo, "POST"),
           ("/api/retrain", retrain, "POST"), ("/api/next", next_batch, "POST"),
           ("/api/checkpoint", checkpoint, "POST"), ("/api/restore", restore, "POST"),
           ("/api/export/model", export_model, "POST"), ("/api/export/labels", export_labels, "POST")]
    routes = [Route(path, endpoint(fn), methods=[m]) for path, fn, m in api]
    routes += [Route("/api/image/{item:int}", image, methods=["GET"]),
               Route("/api/download/{name}", download, methods=["GET"]),
               Route("/", index, methods=["GET"]),
               Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(Guard)])
    app.state.worker = worker
    app.state.project = project
    if autostart and project.is_setup and project.items:
        start_advance()  # reopened: finish what a killed server left (a fit, the next batch)
    return app


class _TooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond ``limit`` bytes — by Content-Length up front, and
    while streaming for a body that lies about it or has none."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"the upload is larger than {limit // 2**20} MB")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLarge(f"the upload is larger than {limit // 2**20} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _shown(value: Any) -> str:
    """``value`` as an error message quotes it: repr, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _int(value: Any, what: str) -> int:
    """A JSON integer as it came: a float (2.9, 1e400), a boolean or a string is refused, not
    converted (int(2.9) labeled image 2, int(True) image 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{_shown(value)} is not a whole number", key=what)
    return value


def _query_int(text: str, what: str) -> int:
    """A count in a query string: ASCII digits only (int() would take " 3", "+3" and "3_0")."""
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise UserError(f"{_shown(text)} is not a whole number", key=what)
    return int(text)


def _text(value: Any, what: str) -> str:
    """A JSON string (missing or null: ""); a number, list or object is refused, not turned
    into its repr (a label "['red']")."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"give text, not {_shown(value)}", key=what)
    return value


def _path(value: Any, what: str) -> str:
    """A path from a request: text without NUL (which os functions refuse with a ValueError),
    ``~`` expanded here (pathlib raises RuntimeError for the home of an unknown user)."""
    text = _text(value, what)
    if "\0" in text:
        raise UserError("the path contains a NUL character", key=what)
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        raise UserError(f"{_shown(text)}: no such user's home folder", key=what)
    return expanded


def _csv_path(value: Any) -> str:
    """A CSV to read by path: a ``.csv`` file, by its name and by the file a link leads to, so
    the import cannot be pointed at another file (/etc/passwd, a key) whose first line an
    error would quote."""
    text = _path(value, "csv_path")
    path = Path(text)
    if path.suffix.lower() != ".csv" or Path(os.path.realpath(path)).suffix.lower() != ".csv":
        raise UserError("only .csv files are read as CSV (the file, or the one a link leads to, is not named "
                        "*.csv); nothing was read", key=f"CSV {text}")
    return text


def _check_json(data: Any) -> None:
    """Refuse a request body nested deeper than ``MAX_DEPTH`` or holding a string that is not
    valid text (a lone surrogate such as "\\ud800", which os and sqlite calls refuse)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UserError("the request holds text that is not valid Unicode (a lone surrogate)") from None
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise UserError(f"the request body is nested too deeply (at most {MAX_DEPTH} levels)")
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        for k, v in items:
            if k is not None:
                stack.append((k, depth))
            stack.append((v, depth + 1))
