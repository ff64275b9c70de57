"""End-to-end hostile-user suite: the landed code driven the way a hostile or careless user would,
through the real entry points only.

    .venv/bin/python bench/hostile.py                 # every case (about 2-3 minutes on 2 cores)
    .venv/bin/python bench/hostile.py --only lab_     # the cases whose name holds "lab_"
    .venv/bin/python bench/hostile.py --keep          # keep the temporary folder to look at

Every command runs as a subprocess (``.venv/bin/python -m al_bench``, ``-m al_bench.report``,
``.venv/bin/al-bench-select``, ``.venv/bin/al-bench-label DIR --port 0`` on 127.0.0.1 driven with
http.client); the few checks that need to look inside a labeling project run a short script with
the venv's python. Data is small: scikit-learn's digits (``dataset=digits embedder=pixels
budget=smoke``), PNG folders made with PIL. Everything is written under one temporary folder (HOME,
caches, outputs and working directories of the commands included), servers listen on 127.0.0.1
only, and every process, server and bind mount this script started is ended or undone at the end.

Each case is a function that returns (passed, one-line observation); the script prints one line per
case, then ``N cases: P passed, F failed``, and exits 1 when any case failed. This is a bench
script, not a test: pytest does not run it. Results are recorded in bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any, Callable

sys.dont_write_bytecode = True  # the harness itself writes nothing next to the sources either

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
PY = str(BIN / "python")
SELECT = str(BIN / "al-bench-select")
LABEL = str(BIN / "al-bench-label")
DIGITS = ["dataset=digits", "embedder=pixels"]
# the slow config of the lock and kill -9 cases: about 100 rounds of ~12 s in all on one thread,
# so a second process can be started (and a kill land) while the first is mid-way
SLOW = DIGITS + ["budget=standard", "strategy=entropy", "seed=3", "model.selection_steps=400", "threads=1"]
CLASSES = {"r": "red", "g": "green", "b": "blue"}
MARK = "HOSTILE_PAYLOAD_RAN"  # the file a pickled payload would create


# -- the context: temp folder, environment, processes, mounts, shared fixtures --------------------------
class Ctx:
    """What the cases share: the temporary root, the environment every command gets (all caches and
    HOME inside the root), the processes and bind mounts to undo, and lazily built fixtures."""

    def __init__(self, keep: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="al_bench_hostile-"))
        self.keep = keep
        self.procs: list[subprocess.Popen] = []
        self.mounts: list[Path] = []
        home = self.root / "home"
        home.mkdir()
        self.env = {**os.environ, "HOME": str(home), "AL_BENCH_CACHE": str(self.root / "cache"),
                    "XDG_CACHE_HOME": str(home / ".cache"), "MPLCONFIGDIR": str(home / "mpl"),
                    "TORCH_HOME": str(home / "torch"), "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1",
                    "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ written into the checkout
                    "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        self.data_dir = self.root / "data"  # the digits embedding cache, shared by every run
        self._base: Path | None = None
        self._lab: Lab | None = None
        self._seg: dict[str, Path] | None = None
        self.reference_run: Path | None = None  # the lock case's uninterrupted run, for the kill -9 case

    def dir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def run(self, args: list[str], cwd: Path, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
        """One command to its end, output captured as text; cwd is a folder of the case."""
        return subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout,
                              errors="replace", **kw)

    def start(self, args: list[str], cwd: Path, **kw) -> subprocess.Popen:
        """A command in the background, in a session of its own (so it alone can be signalled)."""
        p = subprocess.Popen(args, cwd=cwd, env=self.env, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def al_bench(self, overrides: list[str], cwd: Path, out: Path, timeout: float = 240) -> subprocess.CompletedProcess:
        return self.run([PY, "-m", "al_bench", *overrides, f"paths.outputs_dir={out}",
                         f"paths.data_dir={self.data_dir}"], cwd, timeout)

    # the digits sweep the aggregation cases copy: random and entropy x seeds 0, 1, smoke budget
    def base_outputs(self) -> Path:
        if self._base is None:
            d = self.dir("base")
            r = self.run([PY, "-m", "al_bench", "-m", *DIGITS, "budget=smoke", "strategy=random,entropy", "seed=0,1",
                          f"paths.outputs_dir={d / 'out'}", f"paths.data_dir={self.data_dir}"], d, 300)
            if r.returncode != 0:
                raise RuntimeError(f"the base sweep failed (exit {r.returncode}): {last_line(r.stderr)}")
            self._base = d / "out"
        return self._base

    def outputs_copy(self, name: str) -> Path:
        """A private copy of the base sweep's outputs (run folders, sweep listing), without its tables."""
        dst = self.dir(name) / "out"
        shutil.copytree(self.base_outputs(), dst, symlinks=True)
        shutil.rmtree(dst / "tables", ignore_errors=True)
        shutil.rmtree(dst / "figures", ignore_errors=True)
        return dst

    def lab(self) -> "Lab":
        if self._lab is None:
            self._lab = Lab(self)
        return self._lab

    def seg_models(self) -> dict[str, Path]:
        if self._seg is None:
            self._seg = build_segmentation_models(self.dir("seg_models"))
        return self._seg

    def cleanup(self) -> None:
        """Stop what is still running, undo bind mounts, remove the root unless --keep."""
        if self._lab is not None:
            self._lab.stop()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)  # its own session: only it and its children
                    p.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(5)
        for m in reversed(self.mounts):
            subprocess.run(["umount", str(m)], capture_output=True)
        for m in self.mounts:  # a read-only folder made by chmod instead
            if m.exists():
                os.chmod(m, 0o755)
        if self.keep:
            print(f"kept: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def traceback_in(*texts: str) -> bool:
    return any("Traceback" in t for t in texts)


def run_folders(out: Path) -> list[Path]:
    """Every run folder under OUT/runs (a folder holding a config.yaml or status.json; Hydra's own
    .hydra/config.yaml is not one)."""
    runs = out / "runs"
    if not runs.is_dir():
        return []
    return sorted({p.parent for p in runs.rglob("*")
                   if p.name in ("status.json", "config.yaml") and p.parent.name != ".hydra"})


def status_of(run_dir: Path) -> str:
    try:
        return json.loads((run_dir / "status.json").read_text()).get("status", "?")
    except (OSError, ValueError):
        return "unreadable"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# -- images ---------------------------------------------------------------------------------------------
def png_bytes(rgb, size: int = 16, seed: int = 0) -> bytes:
    """A small PNG: noise around the colour ``rgb``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    a = (np.array(rgb)[None, None, :] + rng.integers(-30, 30, (size, size, 3))).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def colour_folder(root: Path, per_class: int = 20) -> Path:
    """``per_class`` PNGs per colour, named r_000.png, g_000.png, b_000.png … (the name gives the class)."""
    root.mkdir(parents=True, exist_ok=True)
    colours = {"r": (200, 40, 40), "g": (40, 200, 40), "b": (40, 40, 200)}
    for c, rgb in colours.items():
        for k in range(per_class):
            (root / f"{c}_{k:03d}.png").write_bytes(png_bytes(rgb, seed=ord(c) * 1000 + k))
    return root


# -- the labeling app, served by al-bench-label on 127.0.0.1 ----------------------------------------------
class Lab:
    """``al-bench-label DIR --port 0`` on a project of 60 colour PNGs (pixels embedder, batch 6), the
    first batch labeled from the file names so that a model exists. Every response's status is
    recorded: a 500 anywhere is reported by the cases."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.base = ctx.dir("lab")
        self.images = colour_folder(self.base / "images")
        self.proj = self.base / "proj"
        self.statuses: list[tuple[str, int]] = []
        self.log = open(self.base / "server.stderr", "w")
        self.proc = ctx.start([LABEL, str(self.proj), "--port", "0"], self.base, stdout=subprocess.PIPE,
                              stderr=self.log, text=True)
        line, t0 = "", time.time()
        while "serving" not in line:  # "al-bench-label: serving DIR on http://127.0.0.1:PORT"
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None or time.time() - t0 > 60:
                raise RuntimeError(f"al-bench-label did not start: {clip((self.base / 'server.stderr').read_text())}")
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            raise RuntimeError(f"no 127.0.0.1 address in {line!r}")
        self.port = int(m.group(1))
        # the setup a user does on the first visit: a folder, the labels, a strategy
        s, body = self.post("/api/sources", {"folder": str(self.images)})
        if s != 200 or body.get("added") != 60:
            raise RuntimeError(f"adding the folder: {s} {body}")
        s, body = self.post("/api/setup", {"name": "colours", "labels": "red, green\nblue", "strategy": "margin",
                                           "batch_size": 6, "embedder": "pixels"})
        if s != 200:
            raise RuntimeError(f"setup: {s} {body}")
        st = self.idle()
        for it in (st.get("batch") or {}).get("items", []):
            self.post("/api/label", {"item": it["id"], "label": CLASSES[it["name"][0]]})
        st = self.idle()
        if not st.get("model"):
            raise RuntimeError(f"no model after the first batch: job {st.get('job')}")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60) -> tuple[int, bytes]:
        """One request, the path sent exactly as given (http.client does not normalize it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        self.statuses.append((f"{method} {path[:60]}", r.status))
        return r.status, data

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: Any = None, headers: dict | None = None, raw: bytes | None = None,
             ) -> tuple[int, Any]:
        """POST with the app's header; ``body`` as JSON, or ``raw`` bytes as they are. The answer parsed as
        JSON when it is JSON."""
        h = {"X-AL-Bench": "1", "Content-Type": "application/json"}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}  # None drops a default header
        data = raw if raw is not None else json.dumps({} if body is None else body).encode()
        status, out = self.request("POST", path, data, h)
        try:
            return status, json.loads(out)
        except ValueError:
            return status, out

    def state(self) -> dict:
        s, data = self.get("/api/state")
        if s != 200:
            raise RuntimeError(f"/api/state answered {s}")
        return json.loads(data)

    def idle(self, timeout: float = 120) -> dict:
        """The state once no background job runs (a fit or a query started by an earlier request)."""
        t0 = time.time()
        while True:
            st = self.state()
            if st["job"]["state"] != "running":
                return st
            if time.time() - t0 > timeout:
                raise RuntimeError(f"the job still runs after {timeout} s: {st['job']}")
            time.sleep(0.2)

    def five_hundreds(self) -> list[str]:
        return [what for what, s in self.statuses if s >= 500]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self.log.close()


def one_line_400(status: int, body: Any, want: int | tuple = 400) -> tuple[bool, str]:
    """Whether an API answer is the expected status with a one-line JSON error; and that error."""
    want = (want,) if isinstance(want, int) else want
    msg = body.get("error", "") if isinstance(body, dict) else str(body)[:200]
    ok = status in want and isinstance(body, dict) and bool(msg) and "\n" not in msg and "Traceback" not in msg
    return ok, msg


# -- segmentation model files ---------------------------------------------------------------------------
class _WritesMarker:
    """Unpickled, it calls open(path, "w"): what a hostile pickle does, harmlessly (an empty file)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def build_segmentation_models(folder: Path) -> dict[str, Path]:
    """A clean ``torch.export.save`` of a one-conv network (3 → 2 classes, 1 × 1), the same archive
    with its weights config saying ``use_pickle`` and weight_0 replaced by a pickle that would create
    ``folder/MARK``, and an export whose conv weight holds a NaN; plus four 8 × 8 PNGs to score."""
    import torch
    from torch import nn

    class OneConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return self.c(x)

    torch.manual_seed(0)
    net = OneConv().eval()
    clean = folder / "clean.pt2"
    torch.export.save(torch.export.export(net, (torch.randn(1, 3, 8, 8),)), clean)

    # evil.pt2: every weight entry marked use_pickle, the first weight file a pickle with a payload
    evil, marker = folder / "evil.pt2", folder / MARK
    payload = pickle.dumps(_WritesMarker(str(marker)))
    with zipfile.ZipFile(clean) as zi, zipfile.ZipFile(evil, "w") as zo:
        names = zi.namelist()
        cfg_name = next(n for n in names if n.endswith("data/weights/model_weights_config.json"))
        cfg = json.loads(zi.read(cfg_name))
        for entry in cfg["config"].values():
            entry["use_pickle"] = True
        first = sorted(e["path_name"] for e in cfg["config"].values())[0]  # weight_0
        for info in zi.infolist():
            data = zi.read(info)
            if info.filename == cfg_name:
                data = json.dumps(cfg).encode()
            elif info.filename.endswith(f"data/weights/{first}"):
                data = payload
            zo.writestr(info, data)

    nan = folder / "nan.pt2"
    with torch.no_grad():
        net.c.weight[0, 0, 0, 0] = float("nan")
    torch.export.save(torch.export.export(net, (torch.randn(1, 3, 8, 8),)), nan)

    images = folder / "images"
    images.mkdir(exist_ok=True)
    for i in range(4):
        (images / f"im{i}.png").write_bytes(png_bytes((40 * i, 100, 200 - 40 * i), size=8, seed=i))
    return {"clean": clean, "evil": evil, "nan": nan, "marker": marker, "images": images}


# -- the cases --------------------------------------------------------------------------------------------
CASES: list[tuple[str, Callable[[Ctx], tuple[bool, str]]]] = []


def case(name: str):
    def add(fn):
        CASES.append((name, fn))
        return fn
    return add


@case("i01_segmentation_pickled_weight_refused")
def _(ctx: Ctx):
    """Issue 23 item 1: a torch.export archive whose weights ask torch to unpickle them is refused in one
    line before torch reads it; the payload never runs and nothing is written to --out."""
    m = ctx.seg_models()
    d = ctx.dir("i01")
    r = ctx.run([SELECT, "--images-dir", str(m["images"]), "-n", "2", "--task", "segmentation", "--model",
                 str(m["evil"]), "--out", str(d / "out"), "--cache-dir", str(d / "cache")], d)
    err = last_line(r.stderr)
    ok = (r.returncode != 0 and err.startswith("al-bench-select: error") and not traceback_in(r.stderr)
          and not m["marker"].exists() and not (d / "out").exists())
    # control: the clean archive is scored, so the refusal is about the pickle, not segmentation itself
    c = ctx.run([SELECT, "--images-dir", str(m["images"]), "-n", "2", "--task", "segmentation", "--model",
                 str(m["clean"]), "--out", str(d / "clean_out"), "--cache-dir", str(d / "cache")], d)
    ok = ok and c.returncode == 0
    return ok, (f"exit {r.returncode}, marker {'PRESENT' if m['marker'].exists() else 'absent'}, "
                f"--out {'written' if (d / 'out').exists() else 'absent'}, clean archive exit {c.returncode}: "
                f"{clip(err, 150)}")


@case("i02_lab_csv_import_of_etc_passwd")
def _(ctx: Ctx):
    """Issue 23 item 2: pointing the CSV import at /etc/passwd (directly, through a link named *.csv, or
    with a NUL before .csv) never sends back its first line."""
    lab = ctx.lab()
    lab.idle()
    first = Path("/etc/passwd").read_text(errors="replace").splitlines()[0].strip()
    d = ctx.dir("i02")
    link = d / "users.csv"
    link.symlink_to("/etc/passwd")
    seen, leaked = [], False
    for p in ("/etc/passwd", str(link), "/etc/passwd\0.csv", "/etc/../etc/passwd"):
        s, body = lab.post("/api/sources", {"csv_path": p})
        text = json.dumps(body) if isinstance(body, dict) else str(body)
        leaked |= first in text or first.split(":")[0] + ":x:" in text
        seen.append(s)
    ok = not leaked and all(s == 400 for s in seen)
    return ok, f"statuses {seen}; first line of /etc/passwd {'LEAKED' if leaked else 'never in a response'}"


@case("i02b_lab_csv_header_not_echoed")
def _(ctx: Ctx):
    """README: the CSV import's errors name line numbers, never a file's content. A real *.csv whose
    header is not a CSV header (a secret someone keeps in a .csv) must not come back either."""
    lab = ctx.lab()
    lab.idle()
    d = ctx.dir("i02b")
    secret = d / "keys.csv"
    secret.write_text("TOPSECRET-token-1234:hunter2\nsecond line\n")
    s, body = lab.post("/api/sources", {"csv_path": str(secret)})
    ok400, msg = one_line_400(s, body)
    leaked = "TOPSECRET" in json.dumps(body) or "hunter2" in json.dumps(body)
    return ok400 and not leaked, f"status {s}, header {'ECHOED' if leaked else 'not echoed'}: {clip(msg, 150)}"


# a script run with the venv's python: a project's image replaced after it was added (item 3)
REPLACED = r"""
import json, os, shutil, sys
import numpy as np
from al_bench.labeling import LabelingProject

proj, root = sys.argv[1], sys.argv[2]

def replace(target, donor):
    # a user copying another picture over it: new bytes, a later mtime
    before = os.stat(target).st_mtime_ns
    shutil.copyfile(donor, target)
    os.utime(target, ns=(before + 5 * 10**9, before + 5 * 10**9))

def report(p, target, donor):
    keys, x = p.features()
    same = bool(np.allclose(x[keys.index(target)], x[keys.index(donor)]))
    info = p.items_info([target])[0]
    return {"features_of_new_picture": same, "changed": info.get("changed"), "label": p.labels.get(target)}

p = LabelingProject.open(proj)
p.setup("colours", ["red", "green", "blue"], embedder="pixels", batch_size=6)
p.add_folder(root)
p.features()
a, b = root + "/r_000.png", root + "/g_000.png"
p.add_labels({a: "red", b: "green"})
out = {}
replace(a, root + "/b_000.png")               # replaced, then the project reopened
out["reopen"] = report(LabelingProject.open(proj), a, root + "/b_000.png")
replace(b, root + "/b_001.png")               # replaced, then the same folder added again
p = LabelingProject.open(proj)
p.add_folder(root)
out["re_add"] = report(p, b, root + "/b_001.png")
print(json.dumps(out))
"""


@case("i03_replaced_image_recomputed_and_marked")
def _(ctx: Ctx):
    """Issue 23 item 3: an image replaced by another picture under the same name gets the new picture's
    features and is marked changed, after a reopen and after adding its folder again."""
    d = ctx.dir("i03")
    images = colour_folder(d / "images", per_class=4)
    r = ctx.run([PY, "-c", REPLACED, str(d / "proj"), str(images)], d, 180)
    if r.returncode != 0:
        return False, f"exit {r.returncode}: {clip(last_line(r.stderr))}"
    out = json.loads(last_line(r.stdout))
    ok = all(v["features_of_new_picture"] and v["changed"] is True for v in out.values())
    return ok, "; ".join(f"{k}: new features {v['features_of_new_picture']}, changed={v['changed']}, "
                         f"label={v['label']!r}" for k, v in out.items())


@case("i04_report_copied_run_counts_once")
def _(ctx: Ctx):
    """Issue 23 item 4: a finished run folder copied to a sibling name is not another seed: n_seeds and
    n_pairs stay 2, and the report names both folders."""
    out = ctx.outputs_copy("i04")
    run = next(p for p in run_folders(out) if "/entropy/seed0-" in p.as_posix())
    copy = run.with_name(run.name + "-copy")
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    r = ctx.run([PY, "-m", "al_bench.report", str(out)], out.parent)
    text = r.stdout + r.stderr
    gains = read_csv(out / "tables" / "budget_gains.csv") if (out / "tables" / "budget_gains.csv").is_file() else []
    counts = sorted({(g["n_seeds"], g["n_pairs"]) for g in gains})
    # the copy's name holds the original's: the original must appear on its own too
    named = bool(re.search(re.escape(run.name) + r"(?!-copy)", text)) and copy.name in text
    ok = bool(gains) and counts == [("2", "2")] and named and not traceback_in(r.stderr)
    return ok, f"exit {r.returncode}, (n_seeds, n_pairs) {counts}, both folders named: {named}"


@case("i05_report_truncated_curve_is_damaged")
def _(ctx: Ctx):
    """Issue 23 item 5: a curve.csv cut 40 bytes short is listed as damaged, never half-read."""
    out = ctx.outputs_copy("i05")
    run = next(p for p in run_folders(out) if "/entropy/seed1-" in p.as_posix())
    curve = run / "curve.csv"
    curve.write_bytes(curve.read_bytes()[:-40])
    r = ctx.run([PY, "-m", "al_bench.report", str(out)], out.parent)
    rel = run.relative_to(out / "runs").as_posix()
    status = {row["run"]: row["status"] for row in read_csv(out / "tables" / "run_status.csv")} \
        if (out / "tables" / "run_status.csv").is_file() else {}
    results = read_csv(out / "tables" / "results.csv") if (out / "tables" / "results.csv").is_file() else []
    used = [row for row in results if row.get("run") == rel]
    line = next((ln for ln in (r.stdout + r.stderr).splitlines() if run.name in ln), "")
    ok = (r.returncode != 0 and status.get(rel) == "damaged" and not used and bool(line)
          and not traceback_in(r.stderr))
    return ok, f"exit {r.returncode}, status {status.get(rel)!r}, rows used {len(used)}: {clip(line.strip(), 140)}"


@case("i06_rescore_bad_selected_left_unscored")
def _(ctx: Ctx):
    """Issue 23 item 6: ``--heads linear_std`` on runs whose selected.csv is truncated, holds a negative
    pool_position or one outside the pool: each run is left unscored and named, no traceback. The
    checksum in status.json is updated to the edited file, as a user who "fixes" it would, so that
    the re-scoring's own checks are reached (the checksum alone would otherwise catch any edit)."""
    out = ctx.outputs_copy("i06")
    runs = {p.parent.name + "/" + p.name.split("-")[0]: p for p in run_folders(out)}
    pool = int(read_csv(runs["entropy/seed0"] / "curve.csv")[0]["pool_size"])

    def edit(run: Path, fn) -> None:
        path = run / "selected.csv"
        path.write_bytes(fn(path.read_bytes()))
        st = json.loads((run / "status.json").read_text())
        if isinstance(st.get("sha256"), dict):
            st["sha256"]["selected.csv"] = hashlib.sha256(path.read_bytes()).hexdigest()
            (run / "status.json").write_text(json.dumps(st, indent=2))

    def set_position(value: int):
        def fn(raw: bytes) -> bytes:
            rows = list(csv.DictReader(io.StringIO(raw.decode())))
            rows[-1]["pool_position"] = str(value)
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            return buf.getvalue().encode()
        return fn

    bad = {"entropy/seed0": lambda raw: raw[:-40], "entropy/seed1": set_position(-7),
           "random/seed1": set_position(pool + 1000)}
    for key, fn in bad.items():
        edit(runs[key], fn)
    r = ctx.run([PY, "-m", "al_bench.report", str(out), "--heads", "linear_std"], out.parent, 300)
    text = r.stdout + r.stderr
    results = read_csv(out / "tables" / "results.csv") if (out / "tables" / "results.csv").is_file() else []
    col = "accuracy@linear_std"

    def scored(run: Path) -> str:
        rel = run.relative_to(out / "runs").as_posix()
        cells = [row.get(col, "") for row in results if row.get("run") == rel]
        if not cells:
            return "absent"
        return "unscored" if all(c in ("", "nan", "NaN") for c in cells) else "SCORED"

    verdicts = {k: scored(runs[k]) for k in bad}
    named = {k: any(runs[k].name in ln and ("re-scored" in ln or "damaged" in ln) for ln in text.splitlines())
             for k in bad}
    control = scored(runs["random/seed0"])
    ok = (all(v in ("unscored", "absent") for v in verdicts.values()) and all(named.values())
          and control == "SCORED" and not traceback_in(r.stderr))
    return ok, (f"exit {r.returncode}; truncated/negative/out-of-range: {list(verdicts.values())}, named "
                f"{list(named.values())}; intact run {control.lower()}")


@case("i07_shortlist_factor_2_is_2_0")
def _(ctx: Ctx):
    """Issue 23 item 7: strategy.params.shortlist_factor=2 and =2.0 (the default) are one run: the second
    command skips it as finished before, and there is one run folder."""
    d = ctx.dir("i07")
    base = DIGITS + ["budget=smoke", "strategy=hybrid"]
    a = ctx.al_bench(base + ["strategy.params.shortlist_factor=2"], d, d / "out")
    b = ctx.al_bench(base + ["strategy.params.shortlist_factor=2.0"], d, d / "out")
    folders = run_folders(d / "out")
    skipped = "finished before" in b.stderr + b.stdout
    ok = a.returncode == 0 and b.returncode == 0 and skipped and len(folders) == 1
    return ok, (f"exits {a.returncode}/{b.returncode}, second {'skipped: finished before' if skipped else 'RAN AGAIN'}, "
                f"{len(folders)} run folder(s)")


@case("i08_lab_item_float_or_bool_refused")
def _(ctx: Ctx):
    """Issue 23 item 8: {"item": 2.9} and {"item": true} on the label endpoint are 400 and label nothing
    (they used to label images 2 and 1)."""
    lab = ctx.lab()
    before = lab.idle()["counts"]["labeled"]
    got = []
    for raw in (b'{"item": 2.9, "label": "red"}', b'{"item": true, "label": "red"}', b'{"item": 1e0, "label": "red"}'):
        s, body = lab.post("/api/label", raw=raw)
        ok, msg = one_line_400(s, body)
        got.append((s, ok))
    after = lab.state()["counts"]["labeled"]
    ok = all(g[1] for g in got) and after == before
    return ok, f"statuses {[g[0] for g in got]}, labeled {before} → {after}"


@case("i09a_lab_csv_row_with_extra_cells")
def _(ctx: Ctx):
    """Issue 23 item 9: a CSV row with extra cells (x.png,cat,dog) is refused naming its line, and
    nothing is added."""
    lab = ctx.lab()
    before = lab.idle()["counts"]["items"]
    d = ctx.dir("i09a")
    (d / "x.png").write_bytes(png_bytes((200, 40, 40)))
    (d / "y.png").write_bytes(png_bytes((40, 40, 200)))
    text = f"path,label\n{d / 'y.png'},blue\n{d / 'x.png'},cat,dog\n"
    s, body = lab.post("/api/sources", {"csv_text": text, "csv_name": "extra.csv"})
    ok400, msg = one_line_400(s, body)
    after = lab.state()["counts"]["items"]
    ok = ok400 and "line 3" in msg and after == before
    return ok, f"status {s}, items {before} → {after}: {clip(msg, 150)}"


@case("i09b_lab_folder_added_three_times")
def _(ctx: Ctx):
    """Issue 23 item 9: adding the same folder three times lists its one unreadable file once."""
    lab = ctx.lab()
    lab.idle()
    d = ctx.dir("i09b") / "imgs"
    d.mkdir()
    (d / "fine_a.png").write_bytes(png_bytes((200, 40, 40), seed=91))
    (d / "fine_b.png").write_bytes(png_bytes((40, 200, 40), seed=92))
    (d / "broken_hostile9.png").write_bytes(b"not a png at all")
    statuses = [lab.post("/api/sources", {"folder": str(d)})[0] for _ in range(3)]
    st = lab.idle()
    listed = [p for p in st["problems"] if "broken_hostile9" in p["name"]]
    ok = statuses == [200, 200, 200] and len(listed) == 1
    return ok, f"statuses {statuses}, the unreadable file listed {len(listed)} time(s)"


@case("i10a_lab_huge_ids_not_500")
def _(ctx: Ctx):
    """Issue 23 item 10: /api/image/<28 digits>, /api/predict/<huge> and ids at SQLite's limits are a
    404 or 400, never a 500."""
    lab = ctx.lab()
    got = {}
    for path in ("/api/image/", "/api/predict/"):
        for n in ("9" * 28, str(2**63), str(2**64 + 1), "0", "9" * 400):
            got[path + n] = lab.get(path + n)[0]
    ok = all(s in (400, 404) for s in got.values())
    return ok, f"statuses {sorted(set(got.values()))} over {len(got)} URLs"


@case("i10b_lab_deeply_nested_json")
def _(ctx: Ctx):
    """Issue 23 item 10: a JSON body nested 10,000 levels deep is a 400."""
    lab = ctx.lab()
    deep = b'{"item": ' + b"[" * 10_000 + b"]" * 10_000 + b', "label": "red"}'
    deep_obj = b'{"name": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_000 + b"}"
    s1, b1 = lab.post("/api/label", raw=deep)
    s2, b2 = lab.post("/api/checkpoint", raw=deep_obj)
    ok = one_line_400(s1, b1)[0] and one_line_400(s2, b2)[0]
    return ok, f"lists: {s1}, objects: {s2}: {clip(one_line_400(s1, b1)[1], 100)}"


@case("i10c_lab_nul_in_paths")
def _(ctx: Ctx):
    """Issue 23 item 10: a NUL byte in a folder, CSV or export path is a 400."""
    lab = ctx.lab()
    lab.idle()
    d = ctx.dir("i10c")
    got = []
    for body in ({"folder": f"{d}/a\0b"}, {"csv_path": f"{d}/a\0b.csv"}, {"folder": f"{d}\0"}):
        s, resp = lab.post("/api/sources", body)
        got.append((s, one_line_400(s, resp)[0]))
    s, resp = lab.post("/api/export/labels", {"format": "imagefolder", "dest": f"{d}/x\0y", "mode": "link"})
    got.append((s, one_line_400(s, resp)[0]))
    ok = all(g[1] for g in got) and not (d / "x").exists()
    return ok, f"statuses {[g[0] for g in got]}"


@case("i10d_lab_restore_damaged_checkpoint")
def _(ctx: Ctx):
    """Issue 23 item 10: restoring a checkpoint whose file was overwritten with junk is a one-line error
    and leaves the labels as they were."""
    lab = ctx.lab()
    lab.idle()
    cdir = lab.proj / "checkpoints"
    before_files = set(cdir.glob("*")) if cdir.is_dir() else set()
    s, _ = lab.post("/api/checkpoint", {"name": "hostile-junk"})
    if s != 200:
        return False, f"the checkpoint itself answered {s}"
    new = [p for p in set(cdir.glob("*")) - before_files if p.is_file()]
    st = lab.idle()
    item = next((it for it in (st.get("batch") or {}).get("items", []) if it["label"] is None), None)
    if item is not None:  # one label after the checkpoint, so a restore would visibly change the labels
        lab.post("/api/label", {"item": item["id"], "label": CLASSES[item["name"][0]]})
    st = lab.idle()
    labeled = st["counts"]["labeled"]
    if len(new) != 1:
        return False, f"expected one new checkpoint file, found {[p.name for p in new]}"
    new[0].write_bytes(os.urandom(64) + b"junk, not a database\n" * 300)
    s, body = lab.post("/api/restore", {"name": "hostile-junk"})
    ok400, msg = one_line_400(s, body)
    after = lab.idle()["counts"]["labeled"]
    ok = ok400 and after == labeled
    return ok, f"status {s}, labeled {labeled} → {after}: {clip(msg, 140)}"


@case("i10e_nan_weights_refused")
def _(ctx: Ctx):
    """Issue 23 item 10: a model file with NaN weights is refused: imported into the labeling app (an
    exported al_bench model with one weight set to NaN), and as a segmentation model for al-bench-select.
    The clean exported file still imports (control)."""
    import torch

    lab = ctx.lab()
    lab.idle()
    lab.post("/api/retrain", {})  # earlier cases labeled more: the export wants a model of the labels there are
    lab.idle()
    s, out = lab.post("/api/export/model", {})
    if s != 200:
        return False, f"export answered {s}: {out}"
    s, raw = lab.get(out["download"])
    m = torch.load(io.BytesIO(raw), weights_only=True)
    m["weight"][0, 0] = float("nan")
    buf = io.BytesIO()
    torch.save(m, buf)
    round_before = lab.state()["model"]["round"]
    s1, body = lab.post(f"/api/import_model?classes={len(m['classes'])}", raw=buf.getvalue(),
                        headers={"Content-Type": "application/octet-stream"})
    ok1, msg = one_line_400(s1, body)
    round_after = lab.idle()["model"]["round"]
    s2, _ = lab.post(f"/api/import_model?classes={len(m['classes'])}", raw=raw,
                     headers={"Content-Type": "application/octet-stream"})
    lab.idle()
    seg = ctx.seg_models()
    d = ctx.dir("i10e")
    r = ctx.run([SELECT, "--images-dir", str(seg["images"]), "-n", "2", "--task", "segmentation", "--model",
                 str(seg["nan"]), "--out", str(d / "out"), "--cache-dir", str(d / "cache")], d)
    seg_err = last_line(r.stderr)
    ok2 = r.returncode != 0 and seg_err.startswith("al-bench-select: error") and not traceback_in(r.stderr)
    ok = ok1 and round_after == round_before and s2 == 200 and ok2
    return ok, (f"app import {s1} (model round {round_before} → {round_after}; clean file {s2}): {clip(msg, 70)}; "
                f"segmentation exit {r.returncode}: {clip(seg_err, 70)}")


@case("i10f_softmax_beta_1e308_finishes")
def _(ctx: Ctx):
    """Issue 23 item 10: strategy=entropy strategy.sampling=softmax strategy.beta=1e308 finishes ok."""
    d = ctx.dir("i10f")
    r = ctx.al_bench(DIGITS + ["budget=smoke", "strategy=entropy", "strategy.sampling=softmax", "strategy.beta=1e308"],
                     d, d / "out")
    folders = run_folders(d / "out")
    st = status_of(folders[0]) if folders else "no run folder"
    n = len(read_csv(folders[0] / "selected.csv")) if folders and (folders[0] / "selected.csv").is_file() else 0
    ok = r.returncode == 0 and st == "ok" and n > 0 and not traceback_in(r.stderr)
    return ok, f"exit {r.returncode}, status {st}, {n} purchases"


@case("i10g_read_only_outputs_dir")
def _(ctx: Ctx):
    """Issue 23 item 10: paths.outputs_dir on a read-only folder (a read-only bind mount as root, else
    chmod 555) is one line and exit 1."""
    d = ctx.dir("i10g")
    ro = d / "ro"
    ro.mkdir()
    how = "chmod 555"
    if os.geteuid() == 0 and subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True).returncode == 0:
        ctx.mounts.append(ro)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True)
        how = "read-only bind mount"
    else:
        os.chmod(ro, 0o555)
        ctx.mounts.append(ro)
    try:
        (ro / "probe").touch()
        (ro / "probe").unlink()
        return False, f"could not make a read-only folder ({how}): the case was not run"
    except OSError:
        pass
    try:
        r = ctx.al_bench(DIGITS + ["budget=smoke", "strategy=random"], d, ro)
    finally:
        if how.startswith("read-only"):
            subprocess.run(["umount", str(ro)], capture_output=True)
            ctx.mounts.remove(ro)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = r.returncode == 1 and len(lines) == 1 and not traceback_in(r.stderr) and not any(ro.iterdir())
    return ok, f"{how}: exit {r.returncode}, {len(lines)} line(s): {clip(last_line(r.stderr), 120)}"


# a script run with the venv's python: a project's query with a negative seed (item 10)
NEG_SEED = r"""
import json, sys
from al_bench.errors import UserError
from al_bench.labeling import LabelingProject
p = LabelingProject.open(sys.argv[1])
n = len(p.selections())
try:
    p.query("random", 3, seed=-1)
    out = {"error": None}
except UserError as exc:
    out = {"error": str(exc)}
out["new_selections"] = len(p.selections()) - n
print(json.dumps(out))
"""


@case("i10h_project_query_seed_minus_1")
def _(ctx: Ctx):
    """Issue 23 item 10: a project query with seed=-1 is a one-line error (LabelingProject.query and
    al-bench-select --project), and no selection is kept."""
    lab = ctx.lab()
    lab.idle()
    d = ctx.dir("i10h")
    r = ctx.run([PY, "-c", NEG_SEED, str(lab.proj)], d)
    api = json.loads(last_line(r.stdout)) if r.returncode == 0 and r.stdout.strip() else {"error": None}
    c = ctx.run([SELECT, "--project", str(lab.proj), "-n", "2", "--strategy", "random", "--seed", "-1",
                 "--out", str(d / "out")], d)
    cli_err = last_line(c.stderr)
    ok = (bool(api.get("error")) and "\n" not in api["error"] and api.get("new_selections") == 0
          and c.returncode != 0 and "error" in cli_err and not traceback_in(r.stderr, c.stderr)
          and not (d / "out").exists())
    return ok, f"query(): {clip(str(api.get('error')), 70)}; CLI exit {c.returncode}: {clip(cli_err, 70)}"


@case("i10i_list_ids_into_head")
def _(ctx: Ctx):
    """Issue 23 item 10: ``al-bench-select ... --list-ids | head -1`` ends without a BrokenPipeError (3,000
    long file names: more than a pipe buffer, so the writer does meet the closed pipe)."""
    d = ctx.dir("i10i")
    imgs = d / "imgs"
    imgs.mkdir()
    data = png_bytes((9, 9, 9), size=8)
    for i in range(3000):
        (imgs / f"image_with_a_rather_long_name_to_fill_the_pipe_buffer_{i:05d}.png").write_bytes(data)
    r = ctx.run(["bash", "-c", f"'{SELECT}' --images-dir '{imgs}' --list-ids --cache-dir '{d / 'cache'}' "
                               f"2>'{d / 'err'}' | head -1"], d)
    err = (d / "err").read_text(errors="replace")
    ok = r.stdout.strip().endswith("00000.png") and "BrokenPipe" not in err and not traceback_in(err)
    return ok, f"first line {clip(r.stdout.strip(), 60)!r}, stderr: {clip(err, 80) or 'empty'}"


# -- earlier hardening classes: they must stay fixed -----------------------------------------------------
@case("h01_lab_foreign_host_header")
def _(ctx: Ctx):
    """A Host header other than the local names (DNS rebinding) is refused; localhost is served."""
    lab = ctx.lab()
    got = {h: lab.get("/api/state", headers={"Host": h})[0]
           for h in ("evil.example", f"evil.example:{lab.port}", f"localhost.evil.example:{lab.port}",
                     f"127.0.0.1.nip.io:{lab.port}", "")}
    img = lab.get("/api/image/1", headers={"Host": "evil.example"})[0]
    good = lab.get("/api/state", headers={"Host": f"localhost:{lab.port}"})[0]
    ok = all(s == 403 for s in got.values()) and img == 403 and good == 200
    return ok, f"foreign hosts {sorted(set(got.values()))}, image {img}, localhost {good}"


@case("h02_lab_post_without_header")
def _(ctx: Ctx):
    """A POST without X-AL-Bench: 1 (what a cross-site form can send), or from another origin, is refused
    and labels nothing."""
    lab = ctx.lab()
    st = lab.idle()
    before = st["counts"]["labeled"]
    item = next((it for it in (st.get("batch") or {}).get("items", []) if it["label"] is None), {"id": 1})
    body = {"item": item["id"], "label": "red"}
    s1, _ = lab.post("/api/label", body, headers={"X-AL-Bench": None})
    s2, _ = lab.post("/api/label", body, headers={"X-AL-Bench": None, "Content-Type": "text/plain"})
    s3, _ = lab.post("/api/label", body, headers={"Origin": "http://evil.example"})
    s4, _ = lab.post("/api/label", body, headers={"X-AL-Bench": "0"})
    after = lab.state()["counts"]["labeled"]
    ok = (s1, s2, s3, s4) == (403, 403, 403, 403) and after == before
    return ok, f"statuses {[s1, s2, s3, s4]}, labeled {before} → {after}"


@case("h03_lab_path_traversal")
def _(ctx: Ctx):
    """Traversal URLs under /static, /api/image and /api/download never serve a file from outside what
    is served (the server's source, the project database, /etc/passwd)."""
    lab = ctx.lab()
    urls = ["/static/../server.py", "/static/..%2fserver.py", "/static/%2e%2e/server.py",
            "/static/%2e%2e%2fserver.py", "/static/..%5cserver.py", "/static/....//server.py",
            "/static//etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/static/..%252fserver.py", "/api/image/..%2f..%2fproject.sqlite", "/api/image/%2e%2e/%2e%2e/etc/passwd",
            "/api/image/1/../../../etc/passwd", "/api/download/..%2fproject.sqlite", "/api/download/project.sqlite",
            "/api/download/%2e%2e%2f%2e%2e%2fetc%2fpasswd"]
    markers = (b"def create_app", b"SQLite format 3", b"root:x:0:0", b"import ")
    leaks, statuses = [], set()
    for u in urls:
        s, body = lab.get(u)
        statuses.add(s)
        if s == 200 and any(m in body for m in markers):
            leaks.append(u)
    ok = not leaks and not lab.five_hundreds()
    return ok, f"{len(urls)} URLs, statuses {sorted(statuses)}" + (f", LEAKED by {leaks}" if leaks else ", nothing leaked")


@case("h04_two_runs_one_config")
def _(ctx: Ctx):
    """Two ``python -m al_bench`` on one config at once: the second refuses (RunLocked) and the first
    finishes ok."""
    d = ctx.dir("h04")
    out = d / "out"
    args = [PY, "-m", "al_bench", *SLOW, f"paths.outputs_dir={out}", f"paths.data_dir={ctx.data_dir}"]
    with open(d / "first.stderr", "w") as err:
        first = ctx.start(args, d, stdout=subprocess.DEVNULL, stderr=err)
        t0 = time.time()
        while not any((p / "checkpoint.npz").exists() for p in run_folders(out)):  # mid-run
            if first.poll() is not None or time.time() - t0 > 120:
                return False, f"the first run did not get going (exit {first.poll()})"
            time.sleep(0.1)
        second = ctx.run(args, d, 120)
        rc_first = first.wait(240)
    folders = run_folders(out)
    st = status_of(folders[0]) if folders else "no folder"
    msg = last_line(second.stderr)
    ok = (second.returncode != 0 and "another al_bench process is running" in second.stderr
          and not traceback_in(second.stderr) and rc_first == 0 and st == "ok" and len(folders) == 1)
    if ok:
        ctx.reference_run = folders[0]
    return ok, f"second exit {second.returncode} ({clip(msg, 90)}); first exit {rc_first}, status {st}"


@case("h05_kill_9_then_resume")
def _(ctx: Ctx):
    """kill -9 of a run mid-way, then the same command again: it resumes and finishes ok (with the same
    curve.csv and selected.csv as an uninterrupted run, when the lock case ran one)."""
    d = ctx.dir("h05")
    out = d / "out"
    args = [PY, "-m", "al_bench", *SLOW, f"paths.outputs_dir={out}", f"paths.data_dir={ctx.data_dir}"]
    p = ctx.start(args, d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not any((f / "checkpoint.npz").exists() for f in run_folders(out)):
        if p.poll() is not None or time.time() - t0 > 120:
            return False, f"the run did not reach a checkpoint (exit {p.poll()})"
        time.sleep(0.1)
    time.sleep(2.0)  # a few rounds further
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)
    (run,) = run_folders(out)
    killed_status = status_of(run)
    r = ctx.run(args, d, 240)
    st = status_of(run)
    resumed = bool(re.search(r"resum", r.stderr + r.stdout, re.I))
    same = None
    if ctx.reference_run is not None:
        same = all((run / f).read_bytes() == (ctx.reference_run / f).read_bytes() for f in ("curve.csv", "selected.csv"))
    ok = r.returncode == 0 and st == "ok" and not (run / "checkpoint.npz").exists() and same is not False
    return ok, (f"after kill: status {killed_status!r}; rerun exit {r.returncode}, status {st}, log mentions resume: "
                f"{resumed}, files equal to an uninterrupted run: {'not compared' if same is None else same}")


@case("h06_config_key_typo")
def _(ctx: Ctx):
    """A typo in a config key or value fails with an error that names it (first line), exit ≠ 0, no
    traceback, and no run folder. (Hydra words unknown keys itself, over several lines.)"""
    d = ctx.dir("h06")
    got = []
    for override, word in (("budget.fractoins=[0.1]", "fractoins"), ("strategy=entrpy", "entrpy"),
                           ("strategy.params.k=3", "k"), ("budget.fractions=[0.5,0.2]", "increasing")):
        r = ctx.al_bench(DIGITS + ["budget=smoke", override], d, d / "out")
        first = next((ln for ln in r.stderr.splitlines() if ln.strip()), "")
        n = len([ln for ln in r.stderr.splitlines() if ln.strip()])
        good = r.returncode != 0 and word in first and not traceback_in(r.stderr) and not (d / "out" / "runs").exists()
        got.append((override.split("=")[0], r.returncode, n, good))
    ok = all(g[3] for g in got)
    return ok, "; ".join(f"{k}: exit {rc}, {n} line(s){'' if g else ' FAILED'}" for k, rc, n, g in got)


@case("h06b_config_value_errors_are_one_line")
def _(ctx: Ctx):
    """The strict form of h06, as README words it: a bad value that al_bench checks (non-increasing
    fractions, an unknown strategy parameter added with +, a random fraction above 1) prints exactly one
    non-empty line on stderr; a key Hydra does not know prints Hydra's message, whose first line
    names the key, with no traceback."""
    d = ctx.dir("h06b")
    got, ok = [], True
    for override, one_line in (("budget.fractions=[0.5,0.2]", True), ("+strategy.params.k=3", True),
                               ("strategy.random_fraction=2", True), ("budget.fractoins=[0.1]", False)):
        r = ctx.al_bench(DIGITS + ["budget=smoke", override], d, d / "out")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        key = override.lstrip("+").split("=")[0]
        first = lines[0] if lines else ""
        ok &= r.returncode != 0 and not traceback_in(r.stderr) and key.split(".")[-1] in first
        ok &= len(lines) == 1 if one_line else True
        got.append((key, r.returncode, len(lines), first))
    ok &= not (d / "out" / "runs").exists()
    return ok, "; ".join(f"{k}: exit {rc}, {n} line(s), first: {clip(first, 50)}" for k, rc, n, first in got)


@case("h07_select_odd_names_and_link_loops")
def _(ctx: Ctx):
    """al-bench-select on a folder with odd file names (spaces, unicode, a newline, a tab, a leading
    dash) and symlink loops: works, or one line."""
    import numpy as np
    from PIL import Image

    d = ctx.dir("h07")
    imgs = d / "imgs"
    imgs.mkdir()
    names = [f"plain_{i}.png" for i in range(5)] + ["with space.png", "ünïcödé 画像.png", "new\nline.png",
                                                     "tab\tname.png", "-n.png", "semi;colon,comma.png"]
    rng = np.random.default_rng(7)
    for n in names:
        Image.fromarray(rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)).save(imgs / n)
    (imgs / "loop").symlink_to(".")
    (imgs / "up").symlink_to("../imgs")
    (imgs / "loop1").symlink_to("loop2")
    (imgs / "loop2").symlink_to("loop1")
    r = ctx.run([SELECT, "--images-dir", str(imgs), "-n", "3", "--strategy", "kcenter", "--embedder", "pixels",
                 "--out", str(d / "out"), "--cache-dir", str(d / "cache")], d)
    picked = read_csv(d / "out" / "selection.csv") if (d / "out" / "selection.csv").is_file() else []
    if r.returncode == 0:
        ok = len(picked) == 3 and not traceback_in(r.stderr)
        found = re.search(r"(\d+) image file\(s\)", r.stderr)
        return ok, f"exit 0, {found.group(1) if found else '?'} of {len(names)} images found, {len(picked)} picked"
    err = last_line(r.stderr)
    ok = "error" in err and not traceback_in(r.stderr)
    return ok, f"exit {r.returncode}: {clip(err, 140)}"


@case("h08_folder_run_skips_bad_pngs")
def _(ctx: Ctx):
    """A zero-byte and a truncated PNG in a dataset=folder run are skipped and listed in skipped.csv."""
    import numpy as np
    from PIL import Image

    d = ctx.dir("h08")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("red", "blue")):
        sub = d / "ds" / name
        sub.mkdir(parents=True)
        for i in range(60):
            a = rng.integers(0, 100, (8, 8, 3))
            a[..., c * 2] += 150
            Image.fromarray(a.astype(np.uint8)).save(sub / f"{i:03d}.png")
    (d / "ds" / "red" / "zero.png").write_bytes(b"")
    whole = (d / "ds" / "red" / "000.png").read_bytes()
    (d / "ds" / "blue" / "trunc.png").write_bytes(whole[: len(whole) // 2])
    r = ctx.al_bench(["dataset=folder", f"dataset.root={d / 'ds'}", "embedder=pixels", "budget=smoke",
                      "budget.initial=4", "budget.batch_size=2", "strategy=random"], d, d / "out")
    folders = run_folders(d / "out")
    skipped = read_csv(folders[0] / "skipped.csv") if folders and (folders[0] / "skipped.csv").is_file() else []
    ids = sorted(row.get("id", "") for row in skipped)
    st = status_of(folders[0]) if folders else "no run folder"
    ok = r.returncode == 0 and st == "ok" and ids == ["blue/trunc.png", "red/zero.png"]
    return ok, f"exit {r.returncode}, status {st}, skipped.csv: {ids}"


@case("z_lab_no_500_anywhere")
def _(ctx: Ctx):
    """Over every request the cases sent to the labeling app: no 500 (run last)."""
    if ctx._lab is None:
        return True, "the app was not started by the selected cases"
    bad = ctx._lab.five_hundreds()
    log_tb = "Traceback" in (ctx._lab.base / "server.stderr").read_text(errors="replace")
    return not bad, (f"{len(ctx._lab.statuses)} requests, {len(bad)} answered 500" + (f" ({bad[:3]})" if bad else "")
                     + f"; server log {'has' if log_tb else 'has no'} traceback")


# -- main ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", metavar="SUBSTR", help="run only the cases whose name holds SUBSTR")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (printed at the end)")
    args = ap.parse_args(argv)
    if not Path(PY).exists():
        print(f"hostile: no venv at {BIN.parent} (run ./setup.sh)", file=sys.stderr)
        return 2
    chosen = [(n, f) for n, f in CASES if not args.only or args.only in n]
    if not chosen:
        print(f"hostile: no case name holds {args.only!r}", file=sys.stderr)
        return 2

    def stop(signum, frame):  # Ctrl-C or a kill: clean up on the way out
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    ctx = Ctx(args.keep)
    passed = failed = 0
    t_all = time.time()
    try:
        for name, fn in chosen:
            t0 = time.time()
            try:
                ok, obs = fn(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a harness problem (or a command that hung) fails the case, with where
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                ok, obs = False, f"harness error: {type(exc).__name__}: {clip(str(exc), 140)} (line {tb.lineno})"
            passed += bool(ok)
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {obs} [{time.time() - t0:.1f} s]", flush=True)
    except KeyboardInterrupt:
        print("hostile: interrupted", file=sys.stderr)
        failed += 1
    finally:
        ctx.cleanup()
    print(f"{passed + failed} cases: {passed} passed, {failed} failed ({time.time() - t_all:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
