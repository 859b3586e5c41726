"""Intervals pinned to reference values; paired tests point the right way; Holm."""

import numpy as np
import pytest
from scipy import stats as st

from reservoir.stats import holm, mean_interval, paired_test


def test_t_interval_has_n_minus_one_degrees_of_freedom() -> None:
    # mean 3, sem sqrt(2.5 / 5); t(0.975, 4) = 2.7764451: not t(5) (1.182, 4.818), not normal (1.614, 4.386)
    est = mean_interval([1, 2, 3, 4, 5])
    assert est.low == pytest.approx(1.0367568, abs=1e-6)
    assert est.high == pytest.approx(4.9632432, abs=1e-6)
    three = mean_interval([0.5, 0.6, 0.7])  # t(0.975, 2) = 4.3026527
    assert three.half_width == pytest.approx(4.3026527 * 0.1 / np.sqrt(3), rel=1e-6)


def test_paired_test_direction_and_interval() -> None:
    device = np.array([0.50, 0.52, 0.49, 0.55, 0.51, 0.50, 0.53, 0.48])
    control = device + np.array([0.30, 0.25, 0.35, 0.28, 0.31, 0.29, 0.33, 0.27])
    better = paired_test(device, control)
    assert better.mean_difference == pytest.approx(-0.2975)
    d = device - control
    half = st.t.ppf(0.975, 7) * st.sem(d)
    assert better.interval == pytest.approx((d.mean() - half, d.mean() + half))
    assert better.p_sign_flip == pytest.approx(1 / 256)  # exact: only the observed signs are as extreme
    assert better.p == max(better.p_t, better.p_sign_flip) < 0.01
    worse = paired_test(control, device)
    assert worse.p > 0.99
    higher = paired_test(control, device, lower_is_better=False)  # memory capacity: higher is better
    assert higher.p < 0.01


def test_few_runs_are_never_significant_by_sign_flip() -> None:
    result = paired_test([0.1, 0.1, 0.1], [0.9, 0.95, 0.92])
    assert result.p_t < 0.01
    assert result.p == result.p_sign_flip == pytest.approx(1 / 8)


def test_holm_adjusts_in_steps_and_keeps_order() -> None:
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.3, 0.02]) == pytest.approx([0.3, 0.04])
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])
    assert len(holm([])) == 0


def test_paired_test_needs_pairs() -> None:
    with pytest.raises(ValueError):
        paired_test([0.5], [0.6])
    with pytest.raises(ValueError):
        mean_interval([0.5])
