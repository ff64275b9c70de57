"""Re-scoring: the labeled set of every finished run at each of its budget points, fitted again
with another head and tested on the run's own test split.

A verdict that holds for one head may not hold for another (a head that standardizes its inputs
weighs the features differently, and so the same labeled sets differently). ``python -m
al_bench.report OUTPUTS --heads linear_std`` adds a column ``accuracy@<head>`` per head to the
results; ``tables/head_agreement.csv`` and the verdict's ``sign_change_under`` read them.

Each head is a model config of ``al_bench/conf/model/<name>.yaml`` that trains on the embeddings.
For a run, the split and embedding are rebuilt from its ``config.yaml`` (the embedding from the
cache its run wrote), the labeled set at a budget point is the first ``n_labeled`` rows of its
``selected.csv`` (purchase order), and the head gets the seed the run's own head had. Scores are
kept under ``OUTPUTS/rescored/<head>/<run>.csv`` with the sha256 of the run's ``selected.csv``,
the head's settings and the code version: anything else is scored again, never reused. A run
whose rebuilt split or embedding differs from the one its ``curve.csv`` records (e.g. a relative
``dataset.path`` read from another working directory) is not scored, and is named; so is a run
whose ``selected.csv`` cannot be the purchases its ``curve.csv`` counts (fewer or more rows than
the last budget point's ``n_labeled``, a pool position twice, or one outside the pool).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import UserError
from ..runfiles import CONFIG, CURVE, SELECTED, DamagedFile, atomic_write_text, read_csv_strict
from .reports.head_agreement import PREFIX as HEAD_PREFIX

log = logging.getLogger(__name__)

__all__ = ["rescore", "head_config", "HEAD_PREFIX"]

def head_config(name: str) -> dict[str, Any]:
    """The model config ``al_bench/conf/model/<name>.yaml`` as a plain dict."""
    import yaml

    conf = Path(__file__).resolve().parent.parent / "conf" / "model"
    path = conf / f"{name}.yaml"
    if not path.is_file() or not name.replace("_", "").isalnum():
        known = sorted(p.stem for p in conf.glob("*.yaml"))
        raise UserError(f"--heads: no model config {name!r}; choose from {known}")
    return dict(yaml.safe_load(path.read_text()))


def rescore(results: pd.DataFrame, heads: Iterable[str], runs_dir: Path,
            outputs_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """(``results`` with a column ``accuracy@<head>`` per head (same rows, same order), one line
    per run that could not be re-scored: its cells stay NaN)."""
    heads = list(dict.fromkeys(heads))
    problems: list[str] = []
    if not heads or results.empty:
        return results, problems
    configs = {h: head_config(h) for h in heads}
    from ..run import code_version

    version = code_version()
    scores: dict[str, dict[tuple[str, float], float]] = {h: {} for h in heads}
    todo: dict[str, list[tuple[str, Path, str, str, dict]]] = {}  # data key → (run, folder, digest, head, config)
    n_labeled: dict[str, int] = {}  # run → labels at its last budget point
    pool_size: dict[str, int | None] = {}  # run → its pool's size, as its curve.csv records it
    bought: dict[str, np.ndarray] = {}  # run → its purchases (pool positions), read once
    for run, rows in results.groupby("run", sort=False):
        run_dir = Path(runs_dir) / run
        # the purchases must be the ones the curve counts, or the fits would be of other labeled sets
        # (the pool's size from curve.csv; from the rebuilt pool below where an old curve lacks it)
        known = "pool_size" in rows and pd.notna(rows["pool_size"].iloc[0])
        pool_size[run] = int(rows["pool_size"].iloc[0]) if known else None
        n_labeled[run] = int(rows["n_labeled"].max())
        try:
            bought[run] = _purchases(run_dir)
        except DamagedFile as exc:
            problem: str | None = str(exc)
        else:
            problem = _selected_problem(bought[run], n_labeled[run], pool_size[run])
        if problem:
            problems.append(f"{run}: {problem}, so it was not re-scored with {', '.join(heads)}")
            continue
        digest = hashlib.sha256((run_dir / SELECTED).read_bytes()).hexdigest()
        for h in heads:
            cached = _cached(outputs_dir, h, run, digest, configs[h], version)
            if cached is not None:
                scores[h].update({(run, b): a for b, a in cached.items()})
            else:
                config = _config(run_dir)
                if config is None:
                    problems.append(f"{run}: no readable {CONFIG}, so it was not re-scored with {h}")
                    continue
                key = json.dumps([config["dataset"], config["embedder"], config["seed"], config["paths"]["data_dir"]],
                                 sort_keys=True, default=str)
                todo.setdefault(key, []).append((run, run_dir, digest, h, config))
    n_fits = sum(len(v) for v in todo.values())
    if n_fits:
        log.info("rescore: %d run × head pair(s) to fit (%d dataset/seed group(s))", n_fits, len(todo))
    done = 0
    recorded = results.groupby("run")[["split_hash", "embedding_checksum"]].first()
    for items in todo.values():
        data = _run_data(items[0][4])
        for run, run_dir, digest, h, config in items:
            # relative paths in config.yaml are read from the working directory: the data found
            # there must be the data the run used, or its labeled sets would be scored on other items
            was = tuple(str(v) for v in recorded.loc[run])
            if was != data["identity"]:
                problems.append(f"{run}: the split and embedding rebuilt from its {CONFIG} here (split {data['identity'][0]}, "
                                f"embedding {data['identity'][1]}) are not the run's ({was[0]}, {was[1]}), so it was not "
                                f"re-scored with {h}; run the report from the folder the runs were started in")
                continue
            problem = pool_size[run] is None and _selected_problem(bought[run], n_labeled[run], len(data["x_pool"]))
            if problem:
                problems.append(f"{run}: {problem}, so it was not re-scored with {h}")
                continue
            acc = _score(run_dir, bought[run], config, configs[h], data)
            _store(outputs_dir, h, run, digest, configs[h], version, acc)
            scores[h].update({(run, b): a for b, a in acc.items()})
            done += 1
            if done % 50 == 0:
                log.info("rescore: %d of %d fitted", done, n_fits)
    out = results.copy()
    keys = list(zip(out["run"], out["budget"].astype(float)))
    for h in heads:
        out[HEAD_PREFIX + h] = [scores[h].get(k, np.nan) for k in keys]
    return out, problems


def _purchases(run_dir: Path) -> np.ndarray:
    """The pool positions of ``selected.csv`` in purchase order (P,), read strictly."""
    frame = read_csv_strict(run_dir / SELECTED, ("pool_position",), ("pool_position",))
    pos = frame["pool_position"]
    if not pd.api.types.is_integer_dtype(pos):
        raise DamagedFile(f"{SELECTED}: pool_position holds values that are not whole numbers")
    return pos.to_numpy(np.int64)


def _selected_problem(bought: np.ndarray, n_labeled: int, pool_size: int | None) -> str | None:
    """Why the purchases ``bought`` (P,) of ``selected.csv`` cannot be the labeled sets of a curve
    whose last budget point has ``n_labeled`` labels in a pool of ``pool_size`` (None: not known
    here), or None."""
    if len(bought) != n_labeled:
        return f"{SELECTED} has {len(bought)} purchases, its {CURVE} ends at {n_labeled} labels"
    if len(np.unique(bought)) != len(bought):
        return f"{SELECTED} buys a pool position twice"
    if bought.min() < 0:
        return f"{SELECTED} has a negative pool position ({int(bought.min())})"
    if pool_size is not None and bought.max() >= pool_size:
        return f"{SELECTED} has pool position {int(bought.max())}, outside the pool of {pool_size} items"
    return None


def _config(run_dir: Path) -> dict | None:
    import yaml

    try:
        config = yaml.safe_load((run_dir / CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return config if isinstance(config, dict) else None


def _run_data(config: dict) -> dict:
    """The split and embedding a run with ``config`` used."""
    from ..config import parse_settings
    from ..data import load_dataset
    from ..run import run_embedding, run_split

    s = parse_settings({k: v for k, v in config.items() if k != "hydra"})
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    ds, split = run_split(s, ds)
    emb = run_embedding(s, ds, split)
    labels = np.asarray(ds.labels)
    return {"x_pool": emb.features[split.pool], "y_pool": labels[split.pool], "x_test": emb.features[split.test],
            "y_test": labels[split.test], "n_classes": len(ds.class_names),
            "identity": (split.fingerprint()[:16], emb.checksum[:16])}  # as curve.csv records them


def _score(run_dir: Path, bought: np.ndarray, config: dict, model: dict, data: dict) -> dict[float, float]:
    """Test accuracy of the head ``model`` fitted on the run's labeled set (the first n of its
    purchases ``bought``) at each budget point."""
    from ..config import parse_settings
    from ..heads import HEADS
    from ..rng import torch_seed

    s = parse_settings({**{k: v for k, v in config.items() if k != "hydra"}, "model": model})
    entry = HEADS.entry(s.model.name)
    if entry.inputs != "features":
        raise UserError(f"--heads: {s.model.name!r} trains on images; re-scoring fits heads on the embeddings only")
    curve = pd.read_csv(run_dir / CURVE)
    out = {}
    for budget, n in zip(curve["budget"].astype(float), curve["n_labeled"].astype(int)):
        rows = bought[:n]
        head = entry.obj(data["x_pool"].shape[1], data["n_classes"], s.model.settings, torch_seed(s.seed, "head"))
        head.fit(data["x_pool"][rows], data["y_pool"][rows])
        out[budget] = float((head.logits(data["x_test"]).argmax(axis=1) == data["y_test"]).mean())
    return out


def _cache_path(outputs_dir: Path, head: str, run: str) -> Path:
    return Path(outputs_dir) / "rescored" / head / f"{run}.csv"


def _stamp(digest: str, model: dict, version: str) -> str:
    return "# " + json.dumps({"selected_sha256": digest, "model": model, "code_version": version}, sort_keys=True)


def _cached(outputs_dir: Path, head: str, run: str, digest: str, model: dict, version: str) -> dict | None:
    path = _cache_path(outputs_dir, head, run)
    try:
        first, body = path.read_text().split("\n", 1)
    except (OSError, ValueError):
        return None
    if first != _stamp(digest, model, version):
        return None
    from io import StringIO

    frame = pd.read_csv(StringIO(body))
    return dict(zip(frame["budget"].astype(float), frame["accuracy"].astype(float)))


def _store(outputs_dir: Path, head: str, run: str, digest: str, model: dict, version: str,
           acc: dict[float, float]) -> None:
    frame = pd.DataFrame({"budget": list(acc), "accuracy": list(acc.values())})
    atomic_write_text(_cache_path(outputs_dir, head, run), _stamp(digest, model, version) + "\n"
                      + frame.to_csv(index=False, float_format="%.17g"))
