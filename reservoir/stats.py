"""Intervals over seeds and the comparison rule for "the device computes"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean over seeds with a two-sided Student-t confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_interval(values: list[float] | np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean and t-interval of per-seed values (needs at least 2 values for an interval)."""
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
