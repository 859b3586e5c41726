"""Intervals, paired tests and the multiple-comparison correction behind every verdict.

The unit of replication is one run (one data seed on one device serial). A device is
compared with a control through the per-run paired differences ``device - control``:

* the interval of their mean is a two-sided Student-t interval with n - 1 degrees of
  freedom (:func:`mean_interval`);
* the one-sided p-value that the device is better is the larger of a paired t-test and an
  exact (or, beyond 2**16 sign patterns, Monte-Carlo) sign-flip permutation test, both
  from ``scipy.stats``: the t-test alone is unsafe with few runs, the sign-flip test alone
  cannot go below 2**-n;
* p-values across the controls of one task are Holm-corrected (:func:`holm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_SIGN_FLIPS = 2**16  # beyond this many sign patterns, sample 20,000 of them


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean over runs with a two-sided Student-t confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_interval(values: list[float] | np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean and t-interval (n - 1 degrees of freedom) of per-run values (at least 2)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        raise ValueError("an interval needs at least two seeds")
    mean = float(v.mean())
    sem = float(stats.sem(v))
    if sem == 0:
        return Estimate(mean, mean, mean, len(v), confidence)
    low, high = stats.t.interval(confidence, len(v) - 1, loc=mean, scale=sem)
    return Estimate(mean, float(low), float(high), len(v), confidence)


def clearly_below(a: Estimate, b: Estimate) -> bool:
    """True when ``a``'s interval lies entirely below ``b``'s: ``a`` beats ``b`` by more
    than the uncertainty of both."""
    return a.high < b.low


@dataclass(frozen=True, slots=True)
class PairedTest:
    """device - control over paired runs: the mean difference and its interval, and the
    one-sided p-values that the device is better (t-test, sign-flip, and the larger)."""

    mean_difference: float
    interval: tuple[float, float]
    p_t: float
    p_sign_flip: float
    n: int

    @property
    def p(self) -> float:
        """The p-value used for verdicts: the larger (more cautious) of the two tests."""
        return max(self.p_t, self.p_sign_flip)


def paired_test(
    device: np.ndarray | list[float],
    control: np.ndarray | list[float],
    *,
    lower_is_better: bool = True,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Paired comparison of per-run scores. ``lower_is_better`` for NRMSE (the device is
    better when device - control < 0), not for memory capacity."""
    d = np.asarray(device, dtype=float) - np.asarray(control, dtype=float)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError("a paired test needs at least two paired runs")
    if not np.all(np.isfinite(d)):
        raise ValueError("paired scores must be finite")
    alternative = "less" if lower_is_better else "greater"
    estimate = mean_interval(d, confidence)
    if np.all(d == d[0]):  # no spread: the sign alone decides
        better = d[0] < 0 if lower_is_better else d[0] > 0
        p_t = 0.0 if better else 1.0
        p_flip = 0.5 ** len(d) if better else 1.0
    else:
        p_t = float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)
        exact = 2 ** len(d) <= EXACT_SIGN_FLIPS
        result = stats.permutation_test(
            (d,), np.mean, permutation_type="samples", alternative=alternative,
            n_resamples=np.inf if exact else 20_000, rng=np.random.default_rng(seed),
        )
        p_flip = float(result.pvalue)
    return PairedTest(estimate.mean, (estimate.low, estimate.high), p_t, p_flip, len(d))


def holm(p_values: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
