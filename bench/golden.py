"""Golden comparison: the same small sweeps and selections on a baseline commit and on this
checkout, compared file by file. A restructuring must leave every result byte for byte.

    .venv/bin/python bench/golden.py                      # each scenario against its baseline below
    .venv/bin/python bench/golden.py --baseline HEAD~3    # every scenario against one commit
    .venv/bin/python bench/golden.py --scenarios labeling # some scenarios (sweeps, select, labeling)
    .venv/bin/python bench/golden.py --keep DIR           # keep both sides' files in DIR

Each baseline is checked out into a temporary git worktree and run with this checkout's
virtual environment (its package directory first on ``PYTHONPATH``), so both sides run on the
same machine with the same libraries: the comparison holds on any CPU. Each scenario names its
baseline commit (``SCENARIOS``; one worktree per distinct commit). The golden set:

- ``digits`` with ``pixels`` embeddings, ``budget=smoke``, the eight strategies the baseline has ×
  seeds 0, 1 (named, not ``glob(*)``, so strategies added later do not enter the comparison);
- the CIFAR-10 subset (``../shared/datasets/cifar10_subset.npz``) with ``kmeans_patches``
  embeddings (reduced to 100 centroids and 20k patches to keep it quick), same sweep;
- ``al-bench-select`` with kcenter, hybrid and badge (a labeled CSV with labels) on a
  generated folder of 80 images, ``--embedder pixels``;
- ``labeling``: a :class:`~al_bench.labeling.LabelingProject` on 96 generated images in 4 colour
  classes close enough that its model errs (``make_label_folder``; ``pixels`` features), driven
  through its API as the app and a notebook do (``LABELING_SCRIPT``):
  three batches (``next_batch``: typiclust, then margin with the model) labeled from the known
  answers and fitted, a kcenter query, a badge query up to a total within a brightness subset,
  a last fit and an entropy query; then ``export_model`` and ``export_labels`` (CSV, Label Studio
  JSON, an ImageFolder of links). The clock is frozen in that process (the model file and the
  labels carry times).

Compared byte for byte, cell by cell: every run's ``curve.csv`` and ``selected.csv``, the
aggregated ``results.csv``, ``budget_gains.csv``, ``labels_to_match.csv``, ``run_status.csv``,
and each selection's ``selection.csv``, ``label_studio.json`` and ``selection.yaml``. Every
column (by name) and field the baseline wrote must be unchanged; columns and fields added
since are listed, not compared. Left out,
because they identify the code or the moment rather than the method: the columns
``code_version``, ``git_commit``, ``config_fingerprint``, the config identity columns
(``config_id``, ``comparison_id``, ``strategy_id``) and the run folder (``run``; folders are
matched by their readable part, ``.../seed<k>``, without the config id suffix), wall times
(``*_seconds``) and peak memory (``*_mb``), and ``created`` in ``selection.yaml``. The labeling
scenario's files are compared whole, byte for byte: the picks (``picks.csv``: selection, strategy,
rank, image, score), each fit's round, labeled count, temperature and cross-validated accuracy
(``fits.csv``), the model file, the label exports and the ImageFolder's links. Exit status 0 when
all match.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the last commit before issue 24 (the second restructuring); the sweeps and selections there are
# byte-identical to the earlier baseline 900472a (selection fits of 100 steps between budget
# points, issue 15 §4; before it 0444f8e, 87243d8): 81 files compared, checked when the
# labeling scenario, which needs a baseline with the labeling app, was added
BASELINE = "c18a8c5"
# issue 24 item 1 (one seeding scheme on al_bench.rng.stream): an int seed of al_bench.select /
# al-bench-select is now the stream stream(seed, "pick") (was default_rng(seed)), a project query
# stream(project_seed, "query", k) (was default_rng(seed * 1_000_003 + k)) and its folds
# stream(seed, "cv", n); against c18a8c5 this changed the kcenter and badge picks of the select
# scenario (hybrid's were the same) and the labeling scenario's picks, hence its labels, fits and
# model file (12 of the 87 files compared); every sweep file stayed byte-identical
PICK_STREAMS = "9e1a95d"
# scenario → its baseline: a deliberate change to one scenario's results moves only its own
SCENARIOS = {"sweeps": BASELINE, "select": PICK_STREAMS, "labeling": PICK_STREAMS}
SUBSET = ROOT.parent / "shared" / "datasets" / "cifar10_subset.npz"
# identity, not results: which code and config produced a row, and where its run folder is
VOLATILE = {"code_version", "git_commit", "config_fingerprint", "config_id", "comparison_id", "strategy_id", "run"}
STRATEGIES = "random,entropy,margin,least_confidence,bald,kcenter,badge,hybrid"
SELECT_RUNS = {
    "kcenter": ["--strategy", "kcenter"],
    "hybrid": ["--strategy", "hybrid", "--labeled", "{labeled}"],
    "badge": ["--strategy", "badge", "--labeled", "{labeled}"],
}

# The labeling scenario, run in its own process with one side's package (argv: images, out). It
# uses only the LabelingProject API the labeling baseline has.
LABELING_SCRIPT = """
import csv, datetime, inspect, os, sys, types
from pathlib import Path

from al_bench.labeling import LabelingProject


class _FrozenClock(datetime.datetime):
    # every "now" is one instant: the model file's created and the labels' times match
    @classmethod
    def now(cls, tz=None):
        t = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
        return t.astimezone(tz) if tz is not None else t.replace(tzinfo=None)


# the labeling modules call dt.datetime.now(...) on their `import datetime as dt`: they get a copy
# of the datetime module with the frozen clock (datetime itself stays: C extensions check its type)
frozen = types.ModuleType("datetime")
frozen.__dict__.update(vars(datetime), datetime=_FrozenClock)
patched = [m for n, m in list(sys.modules.items())
           if n.startswith("al_bench.labeling") and getattr(m, "dt", None) is datetime]
for m in patched:
    m.dt = frozen
assert patched, "no al_bench.labeling module imports datetime as dt: freeze its clock another way"

images, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True)
truth = {str(f): f.parent.name for f in sorted(images.rglob("*.png"))}  # <class>/img_<k>.png
p = LabelingProject.open(out / "project")
# a project's audit share (a uniform part of each batch, for the accuracy estimate) came later than
# the baseline: the scenario keeps batches without it, as the baseline's are
audit = {"audit_fraction": 0.0} if "audit_fraction" in inspect.signature(LabelingProject.setup).parameters else {}
p.setup("golden", [f"class{c}" for c in range(4)], strategy="margin", batch_size=8, embedder="pixels", seed=5, **audit)
p.add_folder(images)
picks, fits = [], []


def keep(sel):
    picks.extend([sel.name, sel.strategy, r, os.path.relpath(k, images), repr(float(s))]
                 for r, (k, s) in enumerate(zip(sel.ids, sel.scores), start=1))
    return sel


def label(sel):
    p.add_labels({k: truth[k] for k in sel.ids})


def fit():
    r = p.fit()
    fits.append([r.round, r.n_labeled, repr(r.temperature), repr(r.cv_accuracy), repr(r.cv_std), r.folds])


for _ in range(3):  # the app's loop: a batch (typiclust first, then margin with the model), labels, a fit
    label(keep(p.next_batch()))
    fit()
label(keep(p.query("kcenter", 6, name="diverse")))
p.define_brightness_subset("bright", min_brightness=120)
label(keep(p.query("badge", total=40, subset="bright")))
fit()
keep(p.query("entropy", 5))
p.export_model(out / "model.pt")
p.export_labels("csv", out / "labels.csv")
p.export_labels("label_studio", out / "labels.json")
p.export_labels("imagefolder", out / "imagefolder", mode="link")
with open(out / "imagefolder.txt", "w") as fh:  # the tree: each link and where it leads
    for f in sorted((out / "imagefolder").rglob("*")):
        if f.is_symlink():
            fh.write(f"{f.relative_to(out / 'imagefolder')} -> {os.path.relpath(os.readlink(f), images)}\\n")
for name, header, rows in (("picks.csv", ["selection", "strategy", "rank", "image", "score"], picks),
                           ("fits.csv", ["round", "n_labeled", "temperature", "cv_accuracy", "cv_std", "folds"], fits)):
    with open(out / name, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
"""
LABELING_FILES = ("picks.csv", "fits.csv", "model.pt", "labels.csv", "labels.json", "imagefolder.txt")


def _volatile(col: str) -> bool:
    return col in VOLATILE or col.endswith("_seconds") or col.endswith("_mb")


def make_folder(root: Path) -> Path:
    """80 small PNGs in 4 colour classes with seeded noise, and a labeled CSV of 12 of them."""
    from PIL import Image

    rng = np.random.default_rng(7)
    base = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40]], float)
    names = []
    for i in range(80):
        c = i % 4
        img = np.clip(base[c] + rng.normal(0, 40, (24, 24, 3)), 0, 255).astype(np.uint8)
        rel = f"cam{c}/img_{i:03d}.png"
        (root / "images" / f"cam{c}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "images" / rel)
        names.append((rel, f"class{c}"))
    with open(root / "labeled.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        for rel, label in names[:12]:
            w.writerow([rel, label])
    return root


def make_label_folder(root: Path) -> Path:
    """96 small PNGs in 4 colour classes (``<class>/img_<k>.png``) close enough, with a colour
    cast per image and pixel noise, that the project's model errs: its cross-validation and
    temperature then have something to measure."""
    from PIL import Image

    rng = np.random.default_rng(11)
    base = np.array([[150, 100, 100], [100, 150, 100], [100, 100, 150], [140, 140, 90]], float)
    for i in range(96):
        c = i % 4
        img = base[c] + rng.normal(0, 35, 3) + rng.normal(0, 50, (16, 16, 3))
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / f"class{c}" / f"img_{i:03d}.png")
    return root


def run_side(code: Path, out: Path, folder: Path, python: str, scenarios: list[str]) -> None:
    """Run ``scenarios`` of the golden set with the package in ``code`` into ``out``."""
    # one BLAS / OpenMP thread on both sides, as the sweeps' threads=1: on some CPUs (OpenBLAS's
    # Haswell kernel, 2026-12-07) a multi-threaded sgemm's sums depend on the matrix shape, so the
    # same distances computed over another set of rows differ in the last bits at 2 threads, and
    # the landed code failed the select scenario on such a machine; golden compares the method
    env = {**os.environ, "PYTHONPATH": str(code), "CI": "1", "HF_HUB_OFFLINE": "1", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    common = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1", "budget=smoke", f"strategy={STRATEGIES}",
              "seed=0,1"]
    sweeps = {
        "digits": ["dataset=digits", "embedder=pixels"],
        "cifar": ["dataset=npz", f"dataset.path={SUBSET}", "embedder=kmeans_patches", "embedder.centroids=100",
                  "embedder.n_patches=20000"],
    }
    for name, args in sweeps.items() if "sweeps" in scenarios else ():
        cmd = [python, "-m", "al_bench", "-m", *args, *common, f"paths.outputs_dir={out / name}",
               f"paths.data_dir={out / name / 'data'}"]
        print(f"golden: {code.name}: sweep {name}", flush=True)
        subprocess.run(cmd, cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)
    module = "al_bench.cli.select" if (code / "al_bench" / "cli" / "select.py").is_file() else "al_bench.select_cli"
    for name, args in SELECT_RUNS.items() if "select" in scenarios else ():
        args = [a.format(labeled=folder / "labeled.csv") for a in args]
        cmd = [python, "-m", module, "--images-dir", str(folder / "images"), "-n", "10", "--embedder", "pixels",
               "--out", str(out / "select" / name), "--cache-dir", str(out / "select-cache"), "--quiet", *args]
        print(f"golden: {code.name}: al-bench-select {name}", flush=True)
        subprocess.run(cmd, cwd=code, env=env, check=True, stderr=subprocess.DEVNULL)
    if "labeling" in scenarios:
        script = out / "labeling_scenario.py"
        out.mkdir(parents=True, exist_ok=True)
        script.write_text(LABELING_SCRIPT)
        print(f"golden: {code.name}: labeling project", flush=True)
        subprocess.run([python, str(script), str(folder / "label-images"), str(out / "labeling")], cwd=code,
                       env=env, check=True)


def _csv_cells(path: Path, columns: list[str] | None = None) -> list[list[str]]:
    """The header and rows of a CSV without its volatile columns; with ``columns``, only those,
    in that order (a missing one as the header cell ``<missing: name>``)."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    if not rows:
        return rows
    if columns is None:
        keep = [i for i, c in enumerate(rows[0]) if not _volatile(c)]
    else:
        keep = [rows[0].index(c) if c in rows[0] else None for c in columns]
    cells = [[(r[i] if i is not None else f"<missing: {columns[j]}>") for j, i in enumerate(keep)] for r in rows]
    if path.name == "run_status.csv":  # one row per run folder, in folder order: compare as a set
        cells = [cells[0], *sorted(cells[1:])]
    return cells


def _readable(rel: Path) -> Path:
    """A run file's path without the run folder's config id (``seed0-1a2b…`` → ``seed0``)."""
    return Path(re.sub(r"/seed(\d+)-[0-9a-f]{12}/", r"/seed\1/", rel.as_posix()))


def _compared_files(out: Path, scenarios: list[str]) -> dict[Path, Path]:
    """Compared name → the file on this side, for ``scenarios``."""
    files = {}
    for sweep in ("digits", "cifar") if "sweeps" in scenarios else ():
        for p in sorted((out / sweep / "runs").rglob("*.csv")):
            if p.name in ("curve.csv", "selected.csv"):
                rel = p.relative_to(out)
                files[_readable(rel)] = rel
        for t in ("results.csv", "budget_gains.csv", "labels_to_match.csv", "run_status.csv"):
            files[Path(sweep) / "tables" / t] = Path(sweep) / "tables" / t
    for name in SELECT_RUNS if "select" in scenarios else ():
        for f in ("selection.csv", "label_studio.json", "selection.yaml"):
            files[Path("select") / name / f] = Path("select") / name / f
    for f in LABELING_FILES if "labeling" in scenarios else ():
        files[Path("labeling") / f] = Path("labeling") / f
    return files


def _yaml_diff(a, b, where: str, added: list[str]) -> list[str]:
    """Keys of ``a`` whose values differ in ``b`` (recursively); keys only in ``b`` go to ``added``."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in a:
            out += [f"{where}{k} (missing)"] if k not in b else _yaml_diff(a[k], b[k], f"{where}{k}.", added)
        added += [f"{where}{k}" for k in b if k not in a]
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):  # element by element (tasks)
        found: list[str] = []
        for i, (x, y) in enumerate(zip(a, b)):
            found += _yaml_diff(x, y, f"{where}[{i}].", added)
        return found
    return [] if a == b else [where.rstrip(".") or "(value)"]


def compare(a: Path, b: Path, scenarios: list[str]) -> list[str]:
    """Differences between the two sides' outputs; empty when every compared file matches."""
    import yaml

    problems = []
    files_a, files_b = _compared_files(a, scenarios), _compared_files(b, scenarios)
    names_a, names_b = set(files_a), set(files_b)
    for rel in sorted(names_a ^ names_b):
        problems.append(f"{rel}: only on the {'baseline' if rel in names_a else 'new'} side")
    n = 0
    for rel in sorted(names_a & names_b):
        fa, fb = a / files_a[rel], b / files_b[rel]
        if not fa.is_file() or not fb.is_file():
            problems.append(f"{rel}: missing on the {'baseline' if not fa.is_file() else 'new'} side")
            continue
        n += 1
        if rel.parts[0] == "labeling":  # whole files: picks, model bytes, label exports
            if fa.read_bytes() != fb.read_bytes():
                problems.append(f"{rel}: differs{_first_line_diff(fa, fb)}")
        elif rel.suffix == ".csv":
            # the baseline's columns, by name, must hold the same cells; columns added since are
            # listed, not compared
            ca = _csv_cells(fa)
            cb = _csv_cells(fb, ca[0] if ca else None)
            added = [c for c in (_csv_cells(fb)[:1] or [[]])[0] if ca and c not in ca[0]]
            if added and rel.name not in ("curve.csv", "selected.csv"):
                print(f"golden: {rel}: new columns (not compared): {', '.join(added)}")
            if ca != cb:
                first = next((i for i, (x, y) in enumerate(zip(ca, cb)) if x != y), min(len(ca), len(cb)))
                problems.append(f"{rel}: differs (first at row {first}: {ca[first] if first < len(ca) else None} "
                                f"vs {cb[first] if first < len(cb) else None})")
        elif rel.suffix in (".yaml", ".json"):
            load = yaml.safe_load if rel.suffix == ".yaml" else json.loads
            ya, yb = load(fa.read_text()), load(fb.read_text())
            if isinstance(ya, dict) and isinstance(yb, dict):
                ya.pop("created", None), yb.pop("created", None)
            added: list[str] = []
            diff = _yaml_diff(ya, yb, "", added)
            if diff:
                problems.append(f"{rel}: differs: {diff[:5]}")
            if added:  # a hand-off may gain fields; every field the baseline had must be unchanged
                names = sorted({re.sub(r"\[\d+\]", "[*]", a) for a in added})
                print(f"golden: {rel}: new fields (not compared): {', '.join(names)}")
        elif fa.read_bytes() != fb.read_bytes():
            problems.append(f"{rel}: differs")
    print(f"golden: compared {n} files")
    return problems


def _first_line_diff(fa: Path, fb: Path) -> str:
    """`` (first at line k: <a> vs <b>)`` for text files; empty for binary ones."""
    try:
        la, lb = fa.read_text().splitlines(), fb.read_text().splitlines()
    except UnicodeDecodeError:
        return ""
    k = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
    return f" (first at line {k + 1}: {la[k] if k < len(la) else None!r} vs {lb[k] if k < len(lb) else None!r})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=None,
                    help="git commit to compare every scenario with (default: each scenario's, "
                         + ", ".join(f"{s} {c}" for s, c in SCENARIOS.items()) + ")")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated, of {', '.join(SCENARIOS)} (default all)")
    ap.add_argument("--keep", type=Path, default=None, help="keep both sides' outputs in this folder")
    args = ap.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown or not scenarios:
        ap.error(f"--scenarios: unknown {unknown}; choose from {', '.join(SCENARIOS)}")
    baselines = {s: args.baseline or SCENARIOS[s] for s in scenarios}
    if "sweeps" in scenarios and not SUBSET.is_file():
        print(f"golden: the CIFAR-10 subset is missing at {SUBSET}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="al_bench_golden_")) if args.keep is None else args.keep.resolve()
    work.mkdir(parents=True, exist_ok=True)
    trees = {}
    try:
        folder = make_folder(work / "folder")
        make_label_folder(folder / "label-images")
        for commit in dict.fromkeys(baselines.values()):  # one worktree per baseline commit
            trees[commit] = work / f"baseline-tree-{commit}"
            subprocess.run(["git", "worktree", "add", "--detach", str(trees[commit]), commit], cwd=ROOT, check=True,
                           capture_output=True)
            run_side(trees[commit], work / "baseline", folder, sys.executable,
                     [s for s in scenarios if baselines[s] == commit])
        run_side(ROOT, work / "new", folder, sys.executable, scenarios)
        problems = compare(work / "baseline", work / "new", scenarios)
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print(f"golden: MISMATCH {p}")
    said = "; ".join(f"{', '.join(s for s in scenarios if baselines[s] == c)} against {c}"
                     for c in dict.fromkeys(baselines.values()))
    print(f"golden: {'byte-identical' if not problems else f'{len(problems)} mismatch(es)'} ({said})")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
