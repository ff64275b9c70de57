"""Typed run settings from a plain (already composed) config dict, with one-line errors.

This is where Hydra stops: the entry point hands over ``OmegaConf.to_container(cfg)`` and
everything below works on these frozen dataclasses. Every check names the key and what is
allowed, so a typo fails before any job starts.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .data import DATASETS
from .data.long_tail import Imbalance, parse_imbalance
from .embedders import EMBEDDERS
from .errors import UserError
from .heads import HEADS
from .loop.budget import check_fractions, check_per_class
from .options import check_int as _int
from .options import check_number as _number  # refuses NaN too
from .options import parse
from .picking.request import CONFIG_KEYS, SelectionRequest, check_request
from .runfiles import check_name
from .strategies import SAMPLINGS, STRATEGIES, features_only

__all__ = ["RunSettings", "DatasetSettings", "EmbedderSettings", "ModelSettings", "StrategySettings",
           "BudgetSettings", "parse_settings", "canonical_config", "run_dir_of_config"]


@dataclass(frozen=True)
class DatasetSettings:
    name: str
    test_fraction: float
    calibration_fraction: float
    options: Mapping[str, Any]  # the loader's own keyword arguments (e.g. path)
    near_duplicates: float = 0.0  # fraction of pool items that get near-duplicate copies (a stress test)
    near_duplicate_copies: int = 3
    near_duplicate_noise: float = 2.0  # pixel noise std of a copy, grey levels
    imbalance: Imbalance = field(default_factory=Imbalance)  # a long-tailed pool (al_bench.data.long_tail)
    # classes kept in the pool but left out of the test and calibration splits (names)
    distractors: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmbedderSettings:
    name: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class ModelSettings:
    name: str  # a registered head (al_bench.heads.HEADS)
    settings: Any  # an instance of that head's settings class
    temperature_scaling: bool
    ece_bins: int
    weighting: str = "none"  # none | lure (al_bench.loop.lure)


@dataclass(frozen=True)
class StrategySettings:
    name: str
    random_fraction: float
    params: Mapping[str, Any]
    sampling: str = "topk"  # topk | power | softmax | softrank (stochastic batch acquisition)
    beta: float = 1.0
    # the same, checked once (al_bench.picking.request); the simulation's rounds run it unchecked
    request: SelectionRequest | None = field(default=None, compare=False, repr=False)
    class_balance: str = "none"  # none | fallback | predicted (al_bench.strategies._balance)


@dataclass(frozen=True)
class BudgetSettings:
    name: str
    fractions: tuple[float, ...]  # empty for a per-class schedule
    initial: int | float | None  # None: the first budget point
    batch_size: int | float | None  # None: one round per budget point
    initial_strategy: str = "random"  # picks the initial set; needs only embeddings
    per_class: tuple[int, ...] | None = None  # budget points as multiples of the number of classes


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


def _distractors(value: Any) -> tuple[str, ...]:
    """``dataset.distractors``: class names (numbers are read as names), none by default."""
    if value is None:
        return ()
    if isinstance(value, (str, int)) or not hasattr(value, "__iter__"):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise UserError(f"got {v!r}; give class names, e.g. [cat] or [9]", key="dataset.distractors")
        out.append(str(v))
    if len(set(out)) != len(out):
        raise UserError(f"got {out}: a class named twice", key="dataset.distractors")
    return tuple(out)


def _keys(section: str, given: Mapping, allowed: set[str]) -> None:
    if not isinstance(given, Mapping):
        raise UserError(f"{section}: expected a mapping, got {given!r}")
    for key in given:
        if key not in allowed:
            raise UserError(f"{section}.{key}: unknown key; allowed keys: {sorted(allowed)}")


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


def _budget(b: Mapping[str, Any]) -> BudgetSettings:
    _keys("budget", b, {"name", "fractions", "per_class", "initial", "batch_size", "initial_strategy"})
    fr, pc = b.get("fractions"), b.get("per_class")
    if pc is not None and fr is not None:
        raise UserError(f"budget.per_class={pc!r} and budget.fractions={fr!r} are exclusive: set one of them to null")
    per_class = None
    if pc is not None:
        if not isinstance(pc, (list, tuple)) or not pc:
            raise UserError(f"budget.per_class={pc!r}: give a list of increasing labels per class, e.g. [1, 2, 5]")
        per_class = check_per_class(pc)
        fractions: tuple[float, ...] = ()
    else:
        if not isinstance(fr, (list, tuple)) or not fr:
            raise UserError(f"budget.fractions={fr!r}: give a list of increasing fractions of the pool in (0, 1]")
        fractions = check_fractions(_number(f"budget.fractions[{i}]", f, 0.0, 1.0, lo_open=True)
                                    for i, f in enumerate(fr))
    init = b.get("initial")
    batch = b.get("batch_size")
    name = b.get("initial_strategy", "random")
    if name not in STRATEGIES:
        raise UserError(f"budget.initial_strategy={name!r}: choose one of {_initial_choices()}")
    if not features_only(name):
        raise UserError(f"budget.initial_strategy={name!r}: needs model outputs, which do not exist before the "
                        f"first label; choose one of {_initial_choices()}")
    return BudgetSettings(
        check_name("budget.name", b.get("name", "custom")),
        fractions,
        None if init is None else _count_or_fraction("budget.initial", init),
        None if batch is None else _count_or_fraction("budget.batch_size", batch),
        str(name),
        per_class,
    )


def _initial_choices() -> list[str]:
    """Strategies that can pick the initial set: those that read nothing but the embeddings."""
    return [n for n in sorted(STRATEGIES) if features_only(n)]


WEIGHTINGS = ("none", "lure")


def _check_lure(model: ModelSettings, strategy: StrategySettings, budget: BudgetSettings) -> None:
    """``model.weighting=lure`` needs every purchase's draw probability and a head that weights
    its loss: one line naming what stands in the way."""
    import inspect

    why = None
    if strategy.sampling == "topk" and not STRATEGIES.entry(strategy.name).meta.get("uniform", False):
        why = (f"strategy {strategy.name} picks top-k (each item with probability 0 or 1); use strategy.sampling="
               "power|softmax|softrank, or strategy=random")
    elif strategy.class_balance != "none":
        why = "strategy.class_balance draws have no known probabilities; leave it at none"
    elif budget.initial_strategy != "random":
        why = (f"the initial set comes from {budget.initial_strategy}, with unknown probabilities; use "
               "budget.initial_strategy=random")
    elif "sample_weight" not in inspect.signature(HEADS.entry(model.name).obj.fit).parameters:
        why = f"model {model.name} does not weight its loss"
    if why:
        raise UserError(f"model.weighting=lure needs known acquisition probabilities: {why}")


def parse_settings(cfg: Mapping[str, Any]) -> RunSettings:
    """Check a composed config (plain dict, ``hydra`` key removed) and return typed settings."""
    _keys("config", cfg, TOP_KEYS)
    for key in TOP_KEYS - {"threads"}:
        if key not in cfg:
            raise UserError(f"config: missing key '{key}'")

    d = cfg["dataset"]
    name = _name("dataset", d, DATASETS)
    loader_opts = list(DATASETS.options(name))
    _keys("dataset", d, {"name", "test_fraction", "calibration_fraction", "near_duplicates",
                         "near_duplicate_copies", "near_duplicate_noise", "imbalance", "distractors", *loader_opts})
    dataset = DatasetSettings(
        name,
        _number("dataset.test_fraction", d.get("test_fraction", 0.2), 0.0, 1.0, lo_open=True, hi_open=True),
        _number("dataset.calibration_fraction", d.get("calibration_fraction", 0.1), 0.0, 1.0, hi_open=True),
        {k: d[k] for k in loader_opts if k in d},
        _number("dataset.near_duplicates", d.get("near_duplicates", 0.0), 0.0, 1.0),
        _int("dataset.near_duplicate_copies", d.get("near_duplicate_copies", 3), 1),
        _number("dataset.near_duplicate_noise", d.get("near_duplicate_noise", 2.0), 0.0, 255.0),
        parse_imbalance(d.get("imbalance")),
        _distractors(d.get("distractors")),
    )

    e = cfg["embedder"]
    name = _name("embedder", e, EMBEDDERS)
    options = {k: v for k, v in e.items() if k != "name"}
    EMBEDDERS.check_options(name, options)
    embedder = EmbedderSettings(name, options)

    m = cfg["model"]
    name = _name("model", m, HEADS)
    ts = m.get("temperature_scaling", True)
    if not isinstance(ts, bool):
        raise UserError(f"model.temperature_scaling={ts!r}: must be true or false")
    bins = _int("model.ece_bins", m.get("ece_bins", 15), 1)
    settings = parse(HEADS.entry(name).settings, {k: v for k, v in m.items() if k != "name"}, "model",
                     ignore=("name", "temperature_scaling", "ece_bins", "weighting"))
    weighting = m.get("weighting", "none")
    if weighting not in WEIGHTINGS:
        raise UserError(f"model.weighting={weighting!r}: choose one of {list(WEIGHTINGS)}")
    model = ModelSettings(name, settings, ts, bins, weighting)

    s = cfg["strategy"]
    name = _name("strategy", s, STRATEGIES)
    _keys("strategy", s, {"name", "random_fraction", "params", "sampling", "beta", "class_balance"})
    params = dict(s.get("params") or {})
    sampling, beta = s.get("sampling", "topk"), s.get("beta", 1.0)
    if sampling not in SAMPLINGS:
        raise UserError(f"strategy.sampling={sampling!r}: choose one of {list(SAMPLINGS)}")
    beta = _number("strategy.beta", beta, 0.0, float("inf"), hi_open=True)
    rf = _number("strategy.random_fraction", s.get("random_fraction", 0.0), 0.0, 1.0)
    seed = _int("seed", cfg["seed"], 0)
    try:  # the one check of a selection request, once per job, in the config's words
        request = check_request(SelectionRequest(name, params=params, random_fraction=rf, sampling=sampling, beta=beta,
                                                 seed=seed, stream=("select",), outputs="model",
                                                 class_balance=s.get("class_balance", "none")))
    except UserError as exc:
        raise UserError(exc.worded(lambda k: CONFIG_KEYS.get(k, k))) from None
    strategy = StrategySettings(name, rf, params, sampling, beta, request, request.class_balance)

    budget = _budget(cfg["budget"])
    if weighting == "lure":
        _check_lure(model, strategy, budget)
    if params.get("target") == "heldout" and dataset.calibration_fraction == 0:  # epig's held-out targets
        raise UserError(f"{name} target=heldout reads the calibration split's inputs, and dataset.calibration_fraction "
                        "is 0: give it a share (e.g. 0.1), or target=pool", key="strategy.params.target")

    threads = cfg.get("threads", "auto")
    threads = None if threads in ("auto", None) else _int("threads", threads, 1)
    p = cfg["paths"]
    _keys("paths", p, {"data_dir", "outputs_dir"})
    return RunSettings(dataset, embedder, model, strategy, budget, seed,
                       Path(str(p["data_dir"])).expanduser(), Path(str(p["outputs_dir"])).expanduser(), threads)


def canonical_config(cfg: Mapping[str, Any], settings: RunSettings | None = None) -> dict[str, Any]:
    """``cfg`` (plain, composed) with every value it gives written as its declared type, so
    that the same value typed two ways is one run: ``strategy.params.shortlist_factor=2``
    against its float default 2.0, ``strategy.random_fraction=0``, ``budget.fractions=[0.05,
    1]`` become floats; ``budget.initial=20.0`` (a count, as :func:`parse_settings` reads it)
    becomes 20. Keys are never added or dropped. The shipped configs already give every value
    as its declared type, so their run ids (and every existing run folder made from them) are
    unchanged; only a config that typed a value the other way gets another id than before.
    ``settings``: :func:`parse_settings` of ``cfg`` when already at hand."""
    import copy

    s = settings if settings is not None else parse_settings(cfg)
    out = copy.deepcopy(dict(cfg))

    def put(node: dict, key: str, value: Any) -> None:
        if key in node:
            node[key] = value

    d = out["dataset"]
    for key in ("test_fraction", "calibration_fraction", "near_duplicates", "near_duplicate_noise",
                "near_duplicate_copies"):
        put(d, key, getattr(s.dataset, key))
    put(d, "imbalance", s.dataset.imbalance.canonical())
    put(d, "distractors", list(s.dataset.distractors))
    m = out["model"]
    for key in list(m):
        if key in ("temperature_scaling", "ece_bins"):
            put(m, key, getattr(s.model, key))
        elif hasattr(s.model.settings, key) and isinstance(m[key], (int, float)):
            m[key] = getattr(s.model.settings, key)
    st = out["strategy"]
    put(st, "random_fraction", s.strategy.random_fraction)
    put(st, "beta", s.strategy.beta)
    defaults = STRATEGIES.entry(s.strategy.name).options
    for key, value in (st.get("params") or {}).items():
        default = defaults[key]  # parse_settings refused unknown parameters
        if isinstance(default, float) and not isinstance(value, bool) and isinstance(value, int):
            st["params"][key] = float(value)
    b = out["budget"]
    if b.get("fractions") is not None:
        b["fractions"] = list(s.budget.fractions)
    if b.get("per_class") is not None:
        b["per_class"] = list(s.budget.per_class)
    put(b, "initial", s.budget.initial)
    put(b, "batch_size", s.budget.batch_size)
    out["seed"] = s.seed
    return out


def run_dir_of_config(cfg: Any) -> str:
    """The run folder (:func:`al_bench.runfiles.run_dir_of`) of a composed config, named by its
    :func:`canonical_config`: what ``${al_bench_run_dir:}`` resolves to."""
    from .runfiles import plain, run_dir_of

    return run_dir_of(canonical_config(plain(cfg)))
