"""The statistics every report shares: the seed-paired t-test and the normalized area under the
budget curve. Pure functions of arrays; the reports decide what is paired with what.

Paired test (:func:`paired_t`): the input is the per-seed differences ``d_s = a_s − b_s``
(same seed, same comparison group, same budget point), n of them. With ``mean``, ``sd``
(ddof = 1) and ``se = sd / √n``, the statistic is ``t = mean / se`` on ``n − 1`` degrees of
freedom; the two-sided p-value is ``2 · P(T > |t|)`` and the 95 % confidence interval is
``mean ± t₀.₉₇₅,ₙ₋₁ · se`` (Student t). This is scipy's ``ttest_rel``.

- Fewer than 2 pairs: no spread can be estimated, so ``std``, the interval and the p-value are
  NaN (``mean`` is the one difference when n = 1) — never a made-up number.
- Zero spread (every difference the same, ``sd ≤ ZERO``): the t statistic is ±∞ or 0/0. We
  take the limit of a spread going to zero: the interval is ``[mean, mean]``; the p-value is 0
  when ``|mean| > ZERO`` (the same non-zero difference at every seed) and 1 when the mean is 0
  too (every seed tied: no evidence of any difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PairedTest", "paired_t", "aubc", "seed_differences", "LEVEL", "ALPHA", "ZERO"]

LEVEL = 0.95  # confidence level of every interval
ALPHA = 0.05  # significance level of "beats" (two-sided paired t-test, p < ALPHA)
# differences of accuracies (fractions of a test set) at or below this are rounding, not spread
ZERO = 1e-12


@dataclass(frozen=True)
class PairedTest:
    """A paired t-test over n per-seed differences: their mean and std (ddof = 1), the
    ``LEVEL`` confidence interval of the mean and the two-sided p-value."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    p_value: float

    def beats(self, alpha: float = ALPHA) -> bool:
        """Significantly positive: p < alpha and a positive mean difference (False when untested)."""
        return bool(np.isfinite(self.p_value) and self.p_value < alpha and self.mean > 0)

    @property
    def tested(self) -> bool:
        return bool(np.isfinite(self.p_value))


def paired_t(diffs, level: float = LEVEL) -> PairedTest:
    """Two-sided paired t-test and Student-t interval of the mean of ``diffs`` (n,) — see the
    module docstring for fewer than 2 pairs and zero spread."""
    d = np.asarray(diffs, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    n = int(d.size)
    nan = float("nan")
    if n == 0:
        return PairedTest(0, nan, nan, nan, nan, nan)
    mean = float(d.mean())
    if n == 1:
        return PairedTest(1, mean, nan, nan, nan, nan)
    sd = float(d.std(ddof=1))
    if sd <= ZERO:
        return PairedTest(n, mean, sd, mean, mean, 0.0 if abs(mean) > ZERO else 1.0)
    se = sd / math.sqrt(n)
    t = mean / se
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    p = float(2.0 * stats.t.sf(abs(t), n - 1))
    return PairedTest(n, mean, sd, mean - half, mean + half, p)


def aubc(n_labeled, accuracy) -> float:
    """Normalized area under one budget curve: the trapezoid rule over the x axis
    ``(n − n_first) / (n_last − n_first)`` (labels, rescaled to [0, 1]), so the result is in
    accuracy units — the curve's average height. NaN for fewer than 2 points or a non-finite
    value; ``n_labeled`` (k,) increasing, ``accuracy`` (k,)."""
    n = np.asarray(n_labeled, dtype=np.float64)
    a = np.asarray(accuracy, dtype=np.float64)
    if n.size < 2 or not (np.isfinite(n).all() and np.isfinite(a).all()) or n[-1] <= n[0]:
        return float("nan")
    if np.any(np.diff(n) < 0):
        raise ValueError(f"aubc: labels must not decrease along the curve, got {n.tolist()}")
    x = (n - n[0]) / (n[-1] - n[0])
    return float(np.sum(np.diff(x) * (a[1:] + a[:-1]) / 2.0))


def seed_differences(frame, a: str, b: str, value: str = "accuracy") -> np.ndarray:
    """``value`` of strategy ``a`` minus that of ``b`` at every seed both have in ``frame``
    (rows of one comparison group and one budget point: columns ``strategy``, ``seed``,
    ``value``), in seed order: (n_pairs,)."""
    va = frame.loc[frame["strategy"] == a].set_index("seed")[value]
    vb = frame.loc[frame["strategy"] == b].set_index("seed")[value]
    both = va.index.intersection(vb.index).sort_values()
    return (va.loc[both] - vb.loc[both]).to_numpy(dtype=np.float64)
