"""Boundaries and invariances found by mutation testing (make mutation): each test here
kills mutants that the behavioural tests let live."""

import numpy as np
import pytest

from reservoir.controls import circular_shift, leaky_integrators
from reservoir.readout import (
    ChronologicalSplit,
    fit_readout,
    fit_ridge_readout,
    mean_prediction,
    nrmse,
    range_nrmse,
)
from reservoir.stats import clearly_below, holm, mean_interval, paired_test
from reservoir.tasks import delayed_inputs, delayed_parity, narma10, squared_correlations, uniform_input
from reservoir.tasks.memory import binary_input

SPLIT = ChronologicalSplit.make(900, washout=50)


def _xy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(900, 6)) * np.array([1e-3, 1.0, 5.0, 0.2, 30.0, 0.5]) + 3.0
    y = (x - 3.0) @ np.array([300.0, 1.0, 0.1, 2.0, 0.01, 1.0]) + 0.3 * rng.normal(size=900)
    return x, y


def test_readout_is_invariant_to_feature_scale_and_offset() -> None:
    x, y = _xy()
    base = fit_ridge_readout(x, y, SPLIT)
    scaled = fit_ridge_readout(x * np.array([1e3, 1, 0.01, 7, 1e-2, 3]) - 5, y, SPLIT)
    assert scaled.alpha == base.alpha
    assert np.allclose(scaled.test_prediction, base.test_prediction, rtol=1e-6, atol=1e-9)
    assert base.validation_nrmse == pytest.approx(float(fit_readout(x, y, SPLIT).validation_nrmse[0]))


def test_constant_feature_is_harmless() -> None:
    x, y = _xy(1)
    with_constant = np.column_stack([x, np.full(900, 4.2)])
    a = fit_ridge_readout(x, y, SPLIT)
    b = fit_ridge_readout(with_constant, y, SPLIT)
    assert np.all(np.isfinite(b.test_prediction))
    assert np.allclose(a.test_prediction, b.test_prediction)


def test_mean_prediction_scores() -> None:
    y = np.random.default_rng(2).normal(size=900)
    result = mean_prediction(y, SPLIT)
    assert result.alpha == 0.0
    expected_val = nrmse(y[SPLIT.validation], np.full(SPLIT.train_end - SPLIT.validation_start,
                                                      y[SPLIT.fit_part].mean()))
    assert result.validation_nrmse == pytest.approx(expected_val)


def test_split_defaults_and_limits() -> None:
    assert ChronologicalSplit.make(3200).as_dict() == {"washout": 200, "train": 2000, "validation": 400,
                                                       "test": 1000}
    assert ChronologicalSplit.make(80, washout=50).n == 80  # 30 usable steps is the minimum
    with pytest.raises(ValueError, match="too little"):
        ChronologicalSplit.make(79, washout=50)


def test_error_messages() -> None:
    with pytest.raises(ValueError, match="NRMSE is undefined for a constant target"):
        nrmse(np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="NRMSE is undefined for a constant target"):
        range_nrmse(np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="fit_ridge_readout takes one target"):
        fit_ridge_readout(np.zeros((900, 2)), np.zeros((900, 2)), SPLIT)
    with pytest.raises(ValueError, match="a paired test needs at least two paired runs"):
        paired_test([0.1], [0.2])
    with pytest.raises(ValueError, match="paired scores must be finite"):
        paired_test([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="time constant must be >= 1 step"):
        leaky_integrators(np.zeros(5), (0.5,))
    with pytest.raises(ValueError, match="leaves the features in place"):
        circular_shift(np.zeros((0, 2)), 1)


def test_integer_inputs_are_taken_as_floats() -> None:
    assert nrmse([0, 1, 2, 3], [1, 1, 2, 3]) == pytest.approx(0.5 / np.std([0, 1, 2, 3]))
    assert range_nrmse([0, 1, 2, 3], [1, 1, 2, 3]) == pytest.approx(0.5 / 3)
    ints = np.array([0, 1, 0, 1, 1])
    assert leaky_integrators(ints, (1.0,))[:, 1].tolist() == [0, 1, 0, 1, 1]
    assert circular_shift(np.arange(4).reshape(4, 1), 1)[:, 0].tolist() == [3, 0, 1, 2]
    assert delayed_inputs([1, 2, 3], 1)[2].tolist() == [3.0, 2.0]
    assert squared_correlations([[1], [2], [4]], [[2], [4], [8]]).tolist() == [1.0]


def test_leaky_integrator_of_time_constant_one_is_the_input() -> None:
    u = uniform_input(20, seed=1)
    assert np.allclose(leaky_integrators(u, (1.0,))[:, 1], u)


def test_squared_correlation_of_small_signals_and_partial_fits() -> None:
    rng = np.random.default_rng(3)
    t = rng.normal(size=(400, 1)) * 1e-3
    p = t + rng.normal(size=(400, 1)) * 1e-3
    r = np.corrcoef(t[:, 0], p[:, 0])[0, 1]
    assert squared_correlations(t, p)[0] == pytest.approx(r**2)
    assert 0.3 < r**2 < 0.7


def test_binary_input_threshold_and_parity_limits() -> None:
    assert binary_input(np.array([0.2499, 0.25, 0.5])).tolist() == [0.0, 1.0, 1.0]
    assert delayed_parity(np.array([0.4, 0.1]), delay=0, order=1).tolist() == [1.0, 0.0]
    assert delayed_parity(np.array([0.1, 0.4]), delay=0, order=1).dtype == float
    with pytest.raises(ValueError):
        delayed_parity(np.zeros(3), delay=-1)
    with pytest.raises(ValueError):
        delayed_parity(np.zeros(3), order=0)
    assert delayed_inputs(np.arange(3.0), 0).shape == (3, 1)
    with pytest.raises(ValueError):
        delayed_inputs(np.arange(3.0), -1)
    with pytest.raises(ValueError):
        delayed_inputs(np.zeros((3, 2)), 1)


def test_generators_limits() -> None:
    assert len(uniform_input(1, seed=0)) == 1
    with pytest.raises(ValueError):
        uniform_input(0, seed=0)
    rng = np.random.default_rng(5)
    assert np.array_equal(uniform_input(4, seed=rng), np.random.default_rng(5).uniform(0, 0.5, 4))
    u_default, _ = narma10(20, seed=1)
    u_100, _ = narma10(20, seed=1, burn_in=100)
    assert np.array_equal(u_default, u_100)
    assert len(narma10(1, seed=0, burn_in=10)[0]) == 1
    with pytest.raises(ValueError):
        narma10(0, seed=0)
    with pytest.raises(ValueError):
        narma10(5, seed=0, burn_in=9)


def test_interval_fields_and_confidence() -> None:
    est = mean_interval([1, 2, 3, 4, 5], confidence=0.9)
    assert est.n == 5 and est.confidence == 0.9
    assert est.high == pytest.approx(3 + 2.1318468 * np.sqrt(0.5), rel=1e-6)
    flat = mean_interval([2.0, 2.0, 2.0])
    assert (flat.mean, flat.low, flat.high, flat.n, flat.confidence) == (2.0, 2.0, 2.0, 3, 0.95)
    a = mean_interval([0.1, 0.2])
    touching = type(a)(a.mean, a.high, a.high + 1, 2, 0.95)
    assert not clearly_below(a, touching)


def test_paired_test_without_spread_and_with_many_runs() -> None:
    same = paired_test([0.5, 0.5, 0.5, 0.5], [0.7, 0.7, 0.7, 0.7])
    assert (same.p_t, same.p_sign_flip, same.n) == (0.0, 1 / 16, 4)
    worse = paired_test([0.7, 0.7, 0.7], [0.5, 0.5, 0.5])
    assert (worse.p_t, worse.p_sign_flip) == (1.0, 1.0)
    higher = paired_test([0.7, 0.7, 0.7], [0.5, 0.5, 0.5], lower_is_better=False)
    assert higher.p == 1 / 8
    two = paired_test([0.1, 0.2], [0.5, 0.7])
    assert two.n == 2 and two.p_sign_flip == pytest.approx(0.25)
    rng = np.random.default_rng(6)
    device, control = rng.normal(0.5, 0.1, 17), rng.normal(0.55, 0.1, 17)  # 2^17 patterns: sampled
    a = paired_test(device, control, seed=3)
    b = paired_test(device, control, seed=3)
    c = paired_test(device, control, seed=4)
    assert a.p_sign_flip == b.p_sign_flip != c.p_sign_flip
    assert a.p_t == pytest.approx(float(__import__("scipy").stats.ttest_rel(device, control,
                                                                                alternative="less").pvalue))
    exact16 = paired_test(device[:16], control[:16], seed=3)
    assert exact16.p_sign_flip == paired_test(device[:16], control[:16], seed=4).p_sign_flip
    wide = paired_test(device, control, confidence=0.5)
    assert wide.interval[1] - wide.interval[0] < a.interval[1] - a.interval[0]


def test_holm_single_and_ties() -> None:
    assert holm([0.03]).tolist() == [0.03]
    assert holm(np.array([0.01, 0.01, 0.5])).tolist() == pytest.approx([0.03, 0.03, 0.5])


def test_ridge_on_the_grid_edge_is_flagged() -> None:
    x, y = _xy(4)
    noise = np.random.default_rng(8).normal(size=900)
    both = fit_readout(x, np.column_stack([y, noise]), SPLIT, alphas=(1e-9, 1e-3, 1e9))
    assert both.alphas.tolist() != [1e-3, 1e-3]
    middle = fit_readout(x, y, SPLIT, alphas=(1e-3,))
    assert middle.alpha_on_edge.tolist() == [True]  # a one-point grid is all edge
    flags = fit_readout(x, noise, SPLIT, alphas=(1e-9, 1e-3, 1e9, 1e12)).alpha_on_edge.tolist()
    chosen = fit_readout(x, noise, SPLIT, alphas=(1e-9, 1e-3, 1e9, 1e12)).alphas[0]
    assert flags == [chosen in (1e-9, 1e12)]
    inner = fit_readout(x, y, SPLIT, alphas=(1e-12, 1e-9, 1e-6, 1e-3, 1e-1, 1e1, 1e3, 1e9))
    assert inner.alpha_on_edge.tolist() == [inner.alphas[0] in (1e-12, 1e9)]


def test_ridge_matches_scikit_learn_at_a_large_ridge() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _xy(9)
    small = fit_ridge_readout(x, 1e-3 * y, SPLIT, alphas=(50.0,))
    y = 100.0 * y  # validation NRMSE must be divided by the target's spread, not multiplied
    ours = fit_ridge_readout(x, y, SPLIT, alphas=(50.0,))
    assert small.validation_nrmse == pytest.approx(ours.validation_nrmse)
    final = make_pipeline(StandardScaler(), Ridge(alpha=50.0)).fit(x[SPLIT.train], y[SPLIT.train])
    assert np.allclose(ours.test_prediction, final.predict(x[SPLIT.test]), rtol=1e-8, atol=1e-8)
    fit = make_pipeline(StandardScaler(), Ridge(alpha=50.0)).fit(x[SPLIT.fit_part], y[SPLIT.fit_part])
    expected = nrmse(y[SPLIT.validation], fit.predict(x[SPLIT.validation]))
    assert ours.validation_nrmse == pytest.approx(expected)
