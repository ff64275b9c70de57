"""Typed run settings from a plain (already composed) config dict, with one-line errors.

This is where Hydra stops: the entry point hands over ``OmegaConf.to_container(cfg)`` and
everything below works on these frozen dataclasses. Every check names the key and what is
allowed, so a typo fails before any job starts.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from .datasets import LOADERS, loader_options
from .embed import EMBEDDERS, check_options
from .errors import UserError
from .model import HeadSettings
from .resnet import ResNetSettings
from .strategies import REGISTRY, check_params

__all__ = ["RunSettings", "DatasetSettings", "EmbedderSettings", "ModelSettings", "StrategySettings",
           "BudgetSettings", "parse_settings"]


@dataclass(frozen=True)
class DatasetSettings:
    name: str
    test_fraction: float
    calibration_fraction: float
    options: Mapping[str, Any]  # the loader's own keyword arguments (e.g. path)
    near_duplicates: float = 0.0  # fraction of pool items that get near-duplicate copies (a stress test)
    near_duplicate_copies: int = 3
    near_duplicate_noise: float = 2.0  # pixel noise std of a copy, grey levels


@dataclass(frozen=True)
class EmbedderSettings:
    name: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class ModelSettings:
    name: str
    head: HeadSettings
    temperature_scaling: bool
    ece_bins: int
    resnet: ResNetSettings | None = None  # model=resnet18: end-to-end on images


@dataclass(frozen=True)
class StrategySettings:
    name: str
    random_fraction: float
    params: Mapping[str, Any]


@dataclass(frozen=True)
class BudgetSettings:
    name: str
    fractions: tuple[float, ...]
    initial: int | float
    batch_size: int | float


@dataclass(frozen=True)
class RunSettings:
    dataset: DatasetSettings
    embedder: EmbedderSettings
    model: ModelSettings
    strategy: StrategySettings
    budget: BudgetSettings
    seed: int
    data_dir: Path
    outputs_dir: Path
    threads: int | None = None  # None = auto (decided by the job from its launcher)


TOP_KEYS = {"dataset", "embedder", "model", "strategy", "budget", "seed", "paths", "threads"}
MODELS = ("linear", "resnet18")


def _keys(section: str, given: Mapping, allowed: set[str]) -> None:
    if not isinstance(given, Mapping):
        raise UserError(f"{section}: expected a mapping, got {given!r}")
    for key in given:
        if key not in allowed:
            raise UserError(f"{section}.{key}: unknown key; allowed keys: {sorted(allowed)}")


def _number(key: str, value: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{key}={value!r}: must be a number")
    v = float(value)
    if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise UserError(f"{key}={value!r}: must lie in {lb}{lo:g}, {hi:g}{rb}")
    return v


def _int(key: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UserError(f"{key}={value!r}: must be an integer >= {lo}")
    if int(value) < lo:
        raise UserError(f"{key}={value!r}: must be an integer >= {lo}")
    return int(value)


def _count_or_fraction(key: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{key}={value!r}: give a count >= 1 or a fraction of the pool in (0, 1)")
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return _int(key, int(value), 1)
    return _number(key, value, 0.0, 1.0, lo_open=True, hi_open=True)


def _name(section: str, d: Mapping, choices) -> str:
    name = d.get("name")
    if name not in choices:
        raise UserError(f"{section}.name={name!r}: choose one of {sorted(choices)}")
    return str(name)


def _resnet_settings(m: Mapping[str, Any]) -> ResNetSettings:
    keys = {f.name for f in fields(ResNetSettings)}
    _keys("model", m, {"name", "temperature_scaling", "ece_bins", *keys})
    d = ResNetSettings()
    pretrained = m.get("pretrained", d.pretrained)
    if not isinstance(pretrained, bool):
        raise UserError(f"model.pretrained={pretrained!r}: must be true or false")
    device = str(m.get("device", d.device))
    if device != "auto" and device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"model.device={device!r}: choose auto, cpu or cuda[:N]")
    return ResNetSettings(
        arch=str(m.get("arch", d.arch)), pretrained=pretrained,
        weights=None if m.get("weights") is None else str(m["weights"]),
        image_size=_int("model.image_size", m.get("image_size", d.image_size), 8),
        dropout=_number("model.dropout", m.get("dropout", d.dropout), 0.0, 1.0, hi_open=True),
        lr=_number("model.lr", m.get("lr", d.lr), 0.0, 10.0, lo_open=True),
        momentum=_number("model.momentum", m.get("momentum", d.momentum), 0.0, 1.0, hi_open=True),
        weight_decay=_number("model.weight_decay", m.get("weight_decay", d.weight_decay), 0.0, 1e3),
        steps=_int("model.steps", m.get("steps", d.steps), 1),
        batch_size=_int("model.batch_size", m.get("batch_size", d.batch_size), 1),
        device=device,
    )


def parse_settings(cfg: Mapping[str, Any]) -> RunSettings:
    """Check a composed config (plain dict, ``hydra`` key removed) and return typed settings."""
    _keys("config", cfg, TOP_KEYS)
    for key in TOP_KEYS - {"threads"}:
        if key not in cfg:
            raise UserError(f"config: missing key '{key}'")

    d = cfg["dataset"]
    name = _name("dataset", d, LOADERS)
    loader_opts = loader_options(name)
    _keys("dataset", d, {"name", "test_fraction", "calibration_fraction", "near_duplicates",
                         "near_duplicate_copies", "near_duplicate_noise", *loader_opts})
    dataset = DatasetSettings(
        name,
        _number("dataset.test_fraction", d.get("test_fraction", 0.2), 0.0, 1.0, lo_open=True, hi_open=True),
        _number("dataset.calibration_fraction", d.get("calibration_fraction", 0.1), 0.0, 1.0, hi_open=True),
        {k: d[k] for k in loader_opts if k in d},
        _number("dataset.near_duplicates", d.get("near_duplicates", 0.0), 0.0, 1.0),
        _int("dataset.near_duplicate_copies", d.get("near_duplicate_copies", 3), 1),
        _number("dataset.near_duplicate_noise", d.get("near_duplicate_noise", 2.0), 0.0, 255.0),
    )

    e = cfg["embedder"]
    name = _name("embedder", e, EMBEDDERS)
    options = {k: v for k, v in e.items() if k != "name"}
    check_options(name, options)
    embedder = EmbedderSettings(name, options)

    m = cfg["model"]
    name = _name("model", m, MODELS)
    ts = m.get("temperature_scaling", True)
    if not isinstance(ts, bool):
        raise UserError(f"model.temperature_scaling={ts!r}: must be true or false")
    bins = _int("model.ece_bins", m.get("ece_bins", 15), 1)
    if name == "resnet18":
        model = ModelSettings(name, HeadSettings(), ts, bins, _resnet_settings(m))
    else:
        head_keys = {f.name for f in fields(HeadSettings)}
        _keys("model", m, {"name", "temperature_scaling", "ece_bins", *head_keys})
        head = HeadSettings(
            dropout=_number("model.dropout", m.get("dropout", HeadSettings.dropout), 0.0, 1.0, hi_open=True),
            lr=_number("model.lr", m.get("lr", HeadSettings.lr), 0.0, 10.0, lo_open=True),
            weight_decay=_number("model.weight_decay", m.get("weight_decay", HeadSettings.weight_decay), 0.0, 1e3),
            steps=_int("model.steps", m.get("steps", HeadSettings.steps), 1),
            batch_size=_int("model.batch_size", m.get("batch_size", HeadSettings.batch_size), 1),
        )
        model = ModelSettings(name, head, ts, bins)

    s = cfg["strategy"]
    name = _name("strategy", s, REGISTRY)
    _keys("strategy", s, {"name", "random_fraction", "params"})
    params = dict(s.get("params") or {})
    check_params(name, params)
    strategy = StrategySettings(
        name, _number("strategy.random_fraction", s.get("random_fraction", 0.0), 0.0, 1.0), params
    )

    b = cfg["budget"]
    _keys("budget", b, {"name", "fractions", "initial", "batch_size"})
    fr = b.get("fractions")
    if not isinstance(fr, (list, tuple)) or not fr:
        raise UserError(f"budget.fractions={fr!r}: give a list of increasing fractions of the pool in (0, 1]")
    fractions = tuple(_number(f"budget.fractions[{i}]", f, 0.0, 1.0, lo_open=True) for i, f in enumerate(fr))
    if any(y <= x for x, y in zip(fractions, fractions[1:])):
        raise UserError(f"budget.fractions={list(fractions)}: must be strictly increasing")
    budget = BudgetSettings(
        str(b.get("name", "custom")),
        fractions,
        _count_or_fraction("budget.initial", b.get("initial")),
        _count_or_fraction("budget.batch_size", b.get("batch_size")),
    )

    seed = _int("seed", cfg["seed"], 0)
    threads = cfg.get("threads", "auto")
    threads = None if threads in ("auto", None) else _int("threads", threads, 1)
    p = cfg["paths"]
    _keys("paths", p, {"data_dir", "outputs_dir"})
    return RunSettings(dataset, embedder, model, strategy, budget, seed,
                       Path(str(p["data_dir"])).expanduser(), Path(str(p["outputs_dir"])).expanduser(), threads)
