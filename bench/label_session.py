"""A labeling session as a new user has it, driven through the app's own HTTP API, against
random picks of the same sizes.

    .venv/bin/python bench/label_session.py [--pool 1000] [--batches 5] [--batch-size 20] [--seeds 5]

1. Writes ``--pool`` CIFAR-subset training images as PNGs (and the held-out test images) under a
   temporary folder.
2. Starts ``al-bench-label`` on a new project, adds the folder, types the 10 class names, keeps
   the defaults (strategy auto, embedder auto, batch size 20, audit share 25 %) and labels
   ``--batches`` batches from the known answers with POST /api/label, timing each retrain +
   next query (the page's wait) and reading the fit time the project records; per batch it
   prints what the page shows: auto's choice and reason, the audit estimate with its interval,
   kappa and whether a stop is suggested.
3. Exports the model (POST /api/export/model) and scores it on the held-out test images (the
   session's last estimate beside it, and the labels at the first stop suggestion): their
   features come from the same embedder fitted on the same pool images (checked: the pool rows
   give the exported model the same predicted class as the project's features on ≥ 98 % of
   the pool; the agreement and the largest difference are printed).
4. The same with the library API (the code path the server's job runs) for ``--seeds`` project
   seeds, and with ``query("random", ...)`` picks of the same sizes, fitted and scored alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT.parent / "shared" / "datasets" / "cifar10_subset.npz"
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_images(folder: Path, n_pool: int, subset: Path) -> tuple[dict[str, str], list[str], np.ndarray]:
    from PIL import Image

    z = np.load(subset)
    imgs, labels, is_test = z["images"], z["labels"], z["is_test"]
    pool = np.flatnonzero(~is_test)[:n_pool]
    test = np.flatnonzero(is_test)
    truth = {}
    for sub, rows in (("pool", pool), ("test", test)):
        (folder / sub).mkdir(parents=True)
        for i in rows:
            f = folder / sub / f"img_{i:05d}.png"
            Image.fromarray(imgs[i]).save(f)
            if sub == "pool":
                truth[str(f)] = NAMES[labels[i]]
    test_files = [str(folder / "test" / f"img_{i:05d}.png") for i in test]
    return truth, test_files, labels[test]


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=600) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-AL-Bench": "1"})
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read())

    def wait_idle(self) -> dict:
        while True:
            st = self.get("/api/state")
            if st["job"]["state"] != "running":
                if st["job"]["state"] == "failed":
                    raise RuntimeError(st["job"]["error"])
                return st
            time.sleep(0.05)


def test_accuracy(project, model_path: str, test_files: list[str], y_test: np.ndarray) -> float:
    """The exported model's accuracy on the test images, their features from the project's
    embedder fitted on the project's images (pool rows checked equal to the project's)."""
    from al_bench.data.images import ImageFiles
    from al_bench.embedders import embed
    from al_bench.labeling import load_model

    keys, x_pool = project.features()
    name = project.settings["embedder_resolved"]
    files = ImageFiles(Path("/"), keys + test_files)
    emb = embed(files, np.arange(len(keys)), name, "bench", None, int(project.settings.get("seed", 0)))
    # the same fit; the extra rows change how the encoding batches round (float32 GEMMs)
    m = load_model(model_path)
    diff = float(np.abs(emb.features[: len(keys)] - x_pool).max())
    agree = float((m.predict_proba(emb.features[: len(keys)]).argmax(1) == m.predict_proba(x_pool).argmax(1)).mean())
    print(f"  test features: on the pool rows max |diff| {diff:.2e} vs the project's features "
          f"(max |x| {float(np.abs(x_pool).max()):.1f}); the model's predicted class agrees on {100 * agree:.1f} %")
    assert agree >= 0.98, "the test features are not the project's embedding"
    pred = m.predict_proba(emb.features[len(keys):]).argmax(1)
    return float((pred == y_test).mean())


def api_session(folder: Path, cache: Path | None, truth: dict[str, str], strategy: str | None, seed: int,
                batches: int, batch_size: int, project_strategy: str = "auto"):
    """(project, exported model path, fit seconds per batch) through the library API: the
    server's job (fit, next batch) for the default strategy, or ``query(strategy)`` picks."""
    from al_bench.labeling import LabelingProject
    from al_bench.labeling.server import advance

    d = Path(tempfile.mkdtemp(prefix=f"labbench-{strategy or 'app'}-{seed}-"))
    if cache is not None:
        shutil.copytree(cache, d / "cache")  # the same embedding (keyed by the images' content)
    p = LabelingProject.open(d)
    p.setup("bench", ", ".join(NAMES), strategy=project_strategy, batch_size=batch_size, seed=seed)
    p.add_folder(folder / "pool")
    fits = []
    quiet = lambda *a: None  # noqa: E731
    for _ in range(batches):
        sel = p.last_selection() if strategy is None else None
        if strategy is None:
            advance(p, quiet)
            sel = p.last_selection()
        else:
            sel = p.query(strategy, batch_size)
        p.add_labels({k: truth[k] for k in sel.ids})
        fits.append(p.fit().fit_seconds)
    return p, p.export_model()["path"], fits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--strategy", default="auto", help="the project's strategy (default: the app's)")
    ap.add_argument("--subset", type=Path, default=SUBSET, help="the CIFAR-10 subset .npz (default ../shared/...)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labbench-"))
    truth, test_files, y_test = write_images(work / "images", args.pool, args.subset)
    print(f"{len(truth)} pool PNGs, {len(test_files)} test PNGs under {work / 'images'}")

    proj = work / "project"
    srv = subprocess.Popen([str(Path(sys.executable).with_name("al-bench-label")), str(proj), "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = srv.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        api = Api(url)
        t0 = time.perf_counter()
        print("sources:", api.post("/api/sources", {"folder": str(work / "images" / "pool")}))
        api.post("/api/setup", {"name": "cifar", "labels": "\n".join(NAMES), "batch_size": args.batch_size,
                                "strategy": args.strategy})
        st = api.wait_idle()
        print(f"setup → first batch: {time.perf_counter() - t0:.1f} s (embedding {st['project']['embedder_resolved']}, "
              f"{st['batch']['strategy']})")
        waits, estimates, stops = [], [], []
        for b in range(args.batches):
            st = api.get("/api/state")
            for it in st["batch"]["items"]:
                key = str(work / "images" / "pool" / it["name"])
                api.post("/api/label", {"item": it["id"], "label": truth[key]})
            t1 = time.perf_counter()
            st = api.wait_idle()
            waits.append(time.perf_counter() - t1)
            r = st["rounds"][-1]
            acc = "n/a" if r["cv_accuracy"] is None else f"{100 * r['cv_accuracy']:.1f} %"
            e = r.get("estimate")
            est = ("none yet" if not e else f"{100 * e['accuracy']:.1f} % [{100 * e['ci_low']:.1f}, "
                   f"{100 * e['ci_high']:.1f}] from {e['n_audit']} audited")
            stop = st.get("stop") or {}
            estimates.append((st["counts"]["labeled"], e))
            stops.append((st["counts"]["labeled"], bool(stop.get("stop")), stop.get("because")))
            print(f"batch {b + 1}: {st['counts']['labeled']} labels; retrain {r['fit_seconds']:.2f} s (fit, 5-fold CV "
                  f"included), wait for the next batch {waits[-1]:.2f} s; audit estimate {est}; kappa "
                  f"{'n/a' if r.get('kappa') is None else format(r['kappa'], '.3f')}; stop suggested: "
                  f"{'yes: ' + '; '.join(stop['because']) if stop.get('stop') else 'no'}; "
                  f"cross-validated accuracy (all labels) {acc}; next: "
                  f"{st['batch']['strategy'] if st['batch'] else '-'}"
                  + (f" → {st['batch']['candidate']} ({st['batch']['reason']})" if st["batch"] and st["batch"].get("candidate")
                     else ""))
        out = api.post("/api/export/model", {})
    finally:
        srv.terminate()
        srv.wait(30)
    from al_bench.labeling import LabelingProject

    p = LabelingProject.open(proj)
    acc_app = test_accuracy(p, out["path"], test_files, y_test)
    print(f"app session (HTTP, seed 0): exported model, {len(p.labels)} labels: test accuracy {100 * acc_app:.1f} % "
          f"on {len(test_files)} held-out images")
    n_last, e = estimates[-1]
    if e:
        inside = e["ci_low"] <= acc_app <= e["ci_high"]
        print(f"  the session's own estimate at {n_last} labels: {100 * e['accuracy']:.1f} % [{100 * e['ci_low']:.1f}, "
              f"{100 * e['ci_high']:.1f}] from {e['n_audit']} audited images: off by "
              f"{100 * (e['accuracy'] - acc_app):+.1f} points, interval {'covers' if inside else 'misses'} it")
    first = next((n for n, s_, _ in stops if s_), None)
    print(f"  stop suggested first at: {first if first is not None else f'never within {n_last} labels'}")

    app = f"app ({args.strategy} after a typiclust start)"
    res: dict[str, list[float]] = {app: [], "random": []}
    fit_times = []
    for seed in range(args.seeds):
        for label, strategy in ((app, None), ("random", "random")):
            q, path, fits = api_session(work / "images", proj / "cache", truth, strategy, seed, args.batches,
                                        args.batch_size, args.strategy)
            res[label].append(test_accuracy(q, path, test_files, y_test))
            fit_times += fits
    for label, accs in res.items():
        a = 100 * np.array(accs)
        print(f"{label}: {len(p.labels)} labels, test accuracy {a.mean():.1f} ± {a.std(ddof=1) if len(a) > 1 else 0:.1f} % "
              f"over {len(a)} seeds ({', '.join(f'{v:.1f}' for v in a)})")
    d = 100 * (np.array(res[next(iter(res))]) - np.array(res["random"]))
    print(f"paired difference (app − random): {d.mean():+.1f} ± {d.std(ddof=1) if len(d) > 1 else 0:.1f} points")
    print(f"fit seconds per batch (library runs): median {np.median(fit_times):.2f}, max {max(fit_times):.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
