"""``tables/verdict.csv``: at each budget point of each comparison group, which strategy to use
and how sure we are.

- ``metric``: what is compared (last column): ``accuracy``, or the ``--metric`` chosen
  (:mod:`..metric`; ``best_accuracy`` and ``runner_up_accuracy`` are then named after it).
- ``best``: the strategy with the highest mean accuracy over its seeds at that point (exact
  ties broken by name; ``tied_with`` lists the others with the same mean); ``runner_up`` the
  next one.
- ``gain_*``, ``p_value``, ``n_pairs``: best − random, seed-paired, with the 95 % Student-t
  interval and the two-sided paired t-test (:mod:`..stats`); ``beats_random`` is ``yes`` when
  p < 0.05 with a positive gain, ``no`` otherwise, ``untested`` with fewer than 2 paired seeds
  or no random in the group.
- ``margin_*``, ``beats_runner_up``: the same test of best − runner-up.
- ``all_beating_random``: every strategy that beats random there (same test), best mean first,
  so that a significant strategy that is not the best is not hidden.
- ``sign_change_under``: the re-scoring heads (``accuracy@<head>`` columns) under which the
  best strategy's gain over random has the opposite sign, one of the two significantly
  (:func:`.head_agreement.sign_changes`); empty when none does or no head re-scored the runs,
  and with another ``metric`` (the heads are compared on accuracy).
- ``verdict``, in words: ``<best> beats random and the runner-up <r>``; ``<best> beats random
  (the runner-up)``; ``<best> beats random; not separable from <r>``; ``random best:
  significantly above <r>``; ``no significant difference`` (the best does not beat random at
  p < 0.05, or random is best and not significantly above the runner-up; when another strategy
  does, ``no significant difference for the best (<best>); beats random: <s>``); ``all <k>
  strategies tied`` when every mean is the same (the ``low`` schedule's first point is the
  initial set itself, shared by all; ``best`` is then the first by name); ``untested: fewer
  than 2 paired seeds``; ``only <s> ran at this point``; in a group without random
  ``no random runs: …`` (best against runner-up only).

:func:`verdict_summary` turns the table into the lines printed at the end of a sweep.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, for_metric, metric_label
from ..runs import with_identity
from ..stats import ALPHA, ZERO, PairedTest, paired_t, seed_differences
from . import BASELINE, register
from .head_agreement import head_columns, sign_changes

__all__ = ["verdict", "verdict_summary", "COLUMNS"]

COLUMNS = COMPARE_KEYS + ["budget", "n_labeled", "best", "best_accuracy", "gain_mean", "gain_ci_low", "gain_ci_high",
                          "p_value", "n_pairs", "beats_random", "runner_up", "runner_up_accuracy", "margin_mean",
                          "margin_ci_low", "margin_ci_high", "margin_p_value", "margin_n_pairs", "beats_runner_up",
                          "tied_with", "all_beating_random", "verdict", "sign_change_under", "metric"]
UNTESTED = PairedTest(0, np.nan, np.nan, np.nan, np.nan, np.nan)


def _answer(test: PairedTest) -> str:
    return "untested" if not test.tested else ("yes" if test.beats(ALPHA) else "no")


def _words(best: str, runner: str | None, vs_random: str, vs_runner: str, has_random: bool,
           beating: list[str]) -> str:
    if runner is None:
        return f"only {best} ran at this point"
    if not has_random:
        return {"yes": f"no random runs: {best} beats the runner-up {runner}",
                "no": "no random runs: no significant difference"}.get(vs_runner, "no random runs: untested")
    if best == BASELINE:
        return {"yes": f"random best: significantly above {runner}",
                "no": "no significant difference"}.get(vs_runner, "untested: fewer than 2 paired seeds")
    if vs_random == "untested":
        return "untested: fewer than 2 paired seeds"
    if vs_random == "no":
        others = [o for o in beating if o != best]
        return (f"no significant difference for the best ({best}); beats random: {', '.join(others)}" if others
                else "no significant difference")
    if runner == BASELINE:
        return f"{best} beats random (the runner-up)"
    if vs_runner == "yes":
        return f"{best} beats random and the runner-up {runner}"
    return f"{best} beats random; not separable from {runner}"


@register("verdict", kind="table", output="tables/verdict.csv", order=70)
def verdict(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Per budget point: best strategy, its gain over random with 95 % CI, whether it beats random and the runner-up."""
    results = with_identity(results)
    heads = head_columns(results)
    rows = []
    for gk, g in results.groupby(COMPARE_KEYS, sort=True):
        has_random = bool((g["strategy"] == BASELINE).any())
        for b, at in g.groupby("budget", sort=True):
            means = at.groupby("strategy")[metric].mean()
            ranked = sorted(means.index, key=lambda s: (-round(float(means[s]), 12), s))
            best = ranked[0]
            runner = ranked[1] if len(ranked) > 1 else None
            tied = [s for s in ranked[1:] if abs(means[s] - means[best]) <= ZERO]
            vs_random = paired_t(seed_differences(at, best, BASELINE, metric)) if has_random else UNTESTED
            vs_runner = paired_t(seed_differences(at, best, runner, metric)) if runner is not None else UNTESTED
            a_random, a_runner = (_answer(vs_random) if has_random else "untested"), _answer(vs_runner)
            all_tied = runner is not None and len(tied) == len(ranked) - 1
            beating = [s for s in ranked if s != BASELINE and has_random
                       and paired_t(seed_differences(at, s, BASELINE, metric)).beats(ALPHA)]
            rows.append({
                **dict(zip(COMPARE_KEYS, gk)), "budget": b, "n_labeled": int(round(at["n_labeled"].mean())),
                "best": best, "best_accuracy": float(means[best]),
                "gain_mean": vs_random.mean, "gain_ci_low": vs_random.ci_low, "gain_ci_high": vs_random.ci_high,
                "p_value": vs_random.p_value, "n_pairs": vs_random.n, "beats_random": a_random,
                "runner_up": runner if runner is not None else "",
                "runner_up_accuracy": float(means[runner]) if runner is not None else np.nan,
                "margin_mean": vs_runner.mean, "margin_ci_low": vs_runner.ci_low, "margin_ci_high": vs_runner.ci_high,
                "margin_p_value": vs_runner.p_value, "margin_n_pairs": vs_runner.n, "beats_runner_up": a_runner,
                "tied_with": ";".join(tied), "all_beating_random": ";".join(beating),
                "verdict": (f"all {len(ranked)} strategies tied (the same mean {metric_label(metric)}; e.g. the same "
                            "labeled set)"
                            if all_tied else _words(best, runner, a_random, a_runner, has_random, beating)),
                "sign_change_under": ";".join(sign_changes(at, best, heads, vs_random)) if has_random and best != BASELINE
                and metric == DEFAULT else "",
                "metric": metric,
            })
    return for_metric(pd.DataFrame(rows, columns=COLUMNS), metric)


def _budget(r: pd.Series) -> str:
    """``5% (2400 labels)``; a point below 1 % reads as its labels alone (``10 labels``)."""
    labels = f"{int(r['n_labeled'])} labels"
    return labels if 100 * r["budget"] < 1 else f"{100 * r['budget']:.3g}% ({labels})"


def _points(v: float) -> str:
    return f"{100 * v:+.2f}" if np.isfinite(v) else "n/a"


def verdict_summary(table: pd.DataFrame) -> str:
    """The verdict table as text, one block per comparison group and one line per budget point:
    budget, labels, best strategy, its gain over random in points with the 95 % CI and p-value,
    and the verdict. Empty string for an empty table."""
    if table is None or table.empty:
        return ""
    metric = str(table["metric"].iloc[0]) if "metric" in table else DEFAULT
    on = "" if metric == DEFAULT else f" on {metric_label(metric)}"
    lines = [f"verdict{on} (seed-paired t-test, p < {ALPHA:g}; gain over {BASELINE} in {metric_label(metric)} points, "
             "95 % CI):"]
    groups = list(table.groupby(COMPARE_KEYS, sort=True))
    for gk, g in groups:
        same_names = sum(other[:4] == gk[:4] for other, _ in groups) > 1
        lines.append("  " + " · ".join(str(k) for k in gk[:4])
                     + (f" · config {str(gk[4])[:6]}" if same_names else ""))
        width = max(len(str(s)) for s in g["best"])
        for _, r in g.iterrows():
            p = f"p={r['p_value']:.3g}" if np.isfinite(r["p_value"]) else "p=n/a"
            ci = (f"[{_points(r['gain_ci_low'])}, {_points(r['gain_ci_high'])}]"
                  if np.isfinite(r["gain_ci_low"]) else "[n/a]")
            flip = r.get("sign_change_under", "")
            flip = f"  [the gain's sign changes under {flip.replace(';', ', ')}]" if isinstance(flip, str) and flip else ""
            lines.append(f"    {_budget(r)}: {r['best']:<{width}} "
                         f"{_points(r['gain_mean'])} {ci} {p} (n={int(r['n_pairs'])})  {r['verdict']}{flip}")
    return "\n".join(lines)
