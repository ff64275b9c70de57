"""``tables/variants.csv``: what each ``name@<id>`` variant is — the strategy settings that tell
it apart from the other variants of the same name in its comparison group.

A strategy run with other settings (``strategy.class_balance``, ``strategy.sampling`` and
``beta``, ``strategy.random_fraction``, a parameter) is another variant, named in every table
and figure ``name@<first 6 of strategy_id>``; this table says which is which. Settings are read
from each run's ``config.yaml`` (:func:`..runs.read_settings`, checked against its
``strategy_id``). One row per strategy of each group as the tables name it (``strategy``), with
``name``, ``differs`` (``key=value`` of every setting whose value is not the same for all the
name's variants, comma-separated; ``beta`` only for a variant that samples; empty for a name
with one variant) and ``n_runs``.
"""

from __future__ import annotations

import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..runs import with_identity
from . import register

__all__ = ["variants", "COLUMNS"]

COLUMNS = COMPARE_KEYS + ["strategy", "name", "differs", "n_runs"]


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@register("variants", kind="table", output="tables/variants.csv", order=90)
def variants(results: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """tables/variants.csv — what each name@<id> variant is: the strategy settings it differs in"""
    if results.empty:
        return pd.DataFrame(columns=COLUMNS)
    per_run = with_identity(results).drop_duplicates("run")[COMPARE_KEYS + ["strategy", "run"]]
    per_run = per_run.merge(settings, on="run", how="left")
    per_run["name"] = per_run["strategy"].astype(str).str.split("@").str[0]
    rows = []
    for (*_, name), g in per_run.groupby(COMPARE_KEYS + ["name"], sort=True):
        one = {v: s.dropna().iloc[0] if s.notna().any() else None
               for v, s in g.groupby("strategy", sort=True)["settings"]}
        known = {v: d for v, d in one.items() if isinstance(d, dict)}
        keys_all = sorted({k for d in known.values() for k in d})
        differing = [k for k in keys_all if len({_value(d.get(k)) for d in known.values()}) > 1]
        for v, d in one.items():
            if isinstance(d, dict):  # beta means something only to a variant that samples
                text = ", ".join(f"{k}={_value(d.get(k))}" for k in differing
                                 if k != "beta" or d.get("sampling", "topk") != "topk")
            else:
                text = "unknown (no readable config.yaml)"
            rows.append({**dict(zip(COMPARE_KEYS, g[COMPARE_KEYS].iloc[0])), "strategy": v, "name": name,
                         "differs": text, "n_runs": int((g["strategy"] == v).sum())})
    return pd.DataFrame(rows, columns=COLUMNS)
