"""One run: dataset → split → embeddings → loop → run files. No Hydra below this line."""

from __future__ import annotations

import datetime as _dt
import logging
import platform
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import __version__
from .config import RunSettings
from .data import initial_labeled, make_split
from .datasets import load_dataset
from .embed import embed
from .loop import LoopResult, LoopSettings, plan_budget, run_loop
from .results import CONFIG, CURVE, SELECTED, SKIPPED, atomic_write_text, write_csv, write_status

log = logging.getLogger(__name__)

__all__ = ["run", "run_dir_name"]


def run_dir_name(s: RunSettings) -> str:
    """The run folder, relative to ``<outputs_dir>/runs``: named by content, not job number."""
    return f"{s.dataset.name}/{s.embedder.name}/{s.model.name}/{s.budget.name}/{s.strategy.name}/seed{s.seed}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run(s: RunSettings, run_dir: Path, config: Mapping[str, Any] | None = None, progress: bool = False) -> LoopResult:
    """Execute one run and write its files into ``run_dir``; status.json says how it ended."""
    import yaml

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (CURVE, SELECTED, SKIPPED):  # a rerun into the same folder must not leave old results behind
        (run_dir / stale).unlink(missing_ok=True)
    started = _now()
    write_status(run_dir, "running", started=started, host=platform.node())
    if config is not None:
        atomic_write_text(run_dir / CONFIG, yaml.safe_dump(dict(config), sort_keys=False))
    t0 = time.perf_counter()
    try:
        result = _run(s, run_dir, progress)
    except BaseException as exc:
        write_status(run_dir, "failed", started=started, finished=_now(), error=f"{type(exc).__name__}: {exc}",
                     traceback=traceback.format_exc())
        raise
    write_status(run_dir, "ok", started=started, finished=_now(), seconds=round(time.perf_counter() - t0, 3),
                 n_points=len(result.curve))
    return result


def _run(s: RunSettings, run_dir: Path, progress: bool) -> LoopResult:
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    split = make_split(ds.labels, s.seed, s.dataset.test_fraction, s.dataset.calibration_fraction, ds.is_test)
    plan = plan_budget(len(split.pool), s.budget.fractions, s.budget.initial, s.budget.batch_size)
    log.info("split: pool %d, test %d, calibration %d; budget points %s, initial %d, batch %d, %d rounds",
             len(split.pool), len(split.test), len(split.calibration), list(plan.points), plan.initial,
             plan.batch_size, plan.n_rounds)
    emb = embed(ds.images, split.pool, s.embedder.name, ds.fingerprint(), s.data_dir, s.seed, **s.embedder.options)
    make_head, model_inputs = None, None
    if s.model.resnet is not None:  # end to end on the images; the embedding still serves distances
        from .images import batch_array
        from .resnet import ResNetHead

        rs = s.model.resnet
        model_inputs = batch_array(ds.images, np.arange(len(ds.labels)), rs.image_size)
        make_head = lambda n_features, n_classes, seed: ResNetHead(n_classes, rs, seed)  # noqa: E731
    loop_settings = LoopSettings(
        strategy=s.strategy.name, seed=s.seed, random_fraction=s.strategy.random_fraction,
        params=dict(s.strategy.params), head=s.model.head, temperature_scaling=s.model.temperature_scaling,
        ece_bins=s.model.ece_bins, progress=progress, make_head=make_head,
    )
    init = initial_labeled(len(split.pool), plan.initial, s.seed)
    result = run_loop(emb.features, ds.labels, split, ds.class_names, plan, init, loop_settings, model_inputs)

    if ds.skipped:
        write_csv(pd.DataFrame(list(ds.skipped), columns=["id", "reason"]), run_dir / SKIPPED)
    # dataset and embedder are the resolved ones (`auto` names what it chose); the config's
    # names sit beside them
    ident = {"dataset": ds.name, "embedder": emb.embedder, "model": s.model.name, "schedule": s.budget.name,
             "strategy": s.strategy.name, "seed": s.seed}
    provenance = {"pool_size": len(split.pool), "test_size": len(split.test),
                  "calibration_size": len(split.calibration), "split_hash": split.fingerprint()[:16],
                  "embedding_checksum": emb.checksum[:16], "al_bench_version": __version__,
                  "dataset_config": s.dataset.name, "embedder_config": s.embedder.name,
                  "n_skipped_items": len(ds.skipped)}
    curve = pd.DataFrame([{**ident, **row, **provenance} for row in result.curve])
    selected = pd.DataFrame(result.selected)
    selected.insert(0, "strategy", s.strategy.name)
    selected.insert(1, "seed", s.seed)
    selected["id"] = ds.ids[selected["index"].to_numpy()]
    write_csv(curve, run_dir / CURVE)
    write_csv(selected, run_dir / SELECTED)
    return result
