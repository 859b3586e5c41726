"""The readout never looks at test data: each test breaks if any test-span value leaks
into fitting (ridge chosen on test, scaler fitted on all rows, final refit including the
test span, mean control predicting the test mean)."""

import numpy as np
import pytest

from reservoir.readout import (
    RIDGE_ALPHAS,
    ChronologicalSplit,
    fit_readout,
    fit_ridge_readout,
    mean_prediction,
    nrmse,
    range_nrmse,
)

SPLIT = ChronologicalSplit.make(1200, washout=100)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1200, 40))
    y = x @ rng.normal(size=40) + 0.05 * rng.normal(size=1200)
    return x, y


def test_test_targets_do_not_change_the_fit() -> None:
    x, y = _data()
    before = fit_ridge_readout(x, y, SPLIT)
    garbage = y.copy()
    garbage[SPLIT.test] = np.random.default_rng(9).normal(size=SPLIT.n - SPLIT.train_end) * 100
    after = fit_ridge_readout(x, garbage, SPLIT)
    assert after.alpha == before.alpha  # chosen on validation, not test
    assert np.array_equal(after.test_prediction, before.test_prediction)  # refit on train only
    assert before.alpha < 1.0  # a clean linear target wants a small ridge; noise on test wants a big one


def test_ridge_is_the_validation_argmin() -> None:
    x, y = _data(1)
    result = fit_readout(x, y, SPLIT)
    scores = []
    for alpha in RIDGE_ALPHAS:
        only = fit_readout(x, y, SPLIT, alphas=(alpha,))
        scores.append(only.validation_nrmse[0])
    assert result.alphas[0] == RIDGE_ALPHAS[int(np.argmin(scores))]


def test_scaler_uses_fitting_rows_only() -> None:
    x, y = _data(2)
    before = fit_ridge_readout(x, y, SPLIT).test_prediction
    wild = x.copy()
    wild[SPLIT.train_end + 1:] *= 1000.0  # every test row but the first
    after = fit_ridge_readout(wild, y, SPLIT).test_prediction
    assert after[0] == pytest.approx(before[0], rel=1e-9, abs=1e-12)


def test_mean_control_predicts_the_training_mean() -> None:
    y = np.concatenate([np.zeros(800), np.ones(400)]) + np.random.default_rng(3).normal(size=1200) * 0.1
    split = ChronologicalSplit.make(1200, washout=0, test_fraction=1 / 3)
    result = mean_prediction(y, split)
    assert np.allclose(result.test_prediction, y[split.train].mean())
    assert result.test_nrmse > 3  # the test mean would score 1.0


def test_tiny_ridge_is_stable_on_collinear_features() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(size=(1200, 5))
    x = np.column_stack([base, base + 1e-9 * rng.normal(size=base.shape)])  # condition ~1e9
    y = base @ np.arange(1, 6) + 0.01 * rng.normal(size=1200)
    result = fit_ridge_readout(x, y, SPLIT, alphas=(1e-10,))
    assert np.all(np.isfinite(result.test_prediction))
    assert result.test_nrmse < 0.02


def test_several_targets_choose_their_own_ridge() -> None:
    x, y = _data(5)
    noise = np.random.default_rng(6).normal(size=1200)
    both = fit_readout(x, np.column_stack([y, noise]), SPLIT)
    assert both.alphas[0] < both.alphas[1]
    alone = fit_ridge_readout(x, y, SPLIT)
    assert np.allclose(both.test_prediction[:, 0], alone.test_prediction)


def test_normalisations() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert nrmse(y, y + 0.5) == pytest.approx(0.5 / np.std(y))
    assert range_nrmse(y, y + 0.5) == pytest.approx(0.5 / 3.0)
    with pytest.raises(ValueError):
        range_nrmse(np.ones(3), np.ones(3))


def test_bad_input_is_a_clear_error() -> None:
    x, y = _data()
    x[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_readout(x, y, SPLIT)
    with pytest.raises(ValueError, match="match"):
        fit_readout(np.zeros((10, 2)), np.zeros(9), SPLIT)


def test_washout_rows_are_never_fitted() -> None:
    x, y = _data(7)
    before = fit_readout(x, y, SPLIT)
    wild_x, wild_y = x.copy(), y.copy()
    wild_x[: SPLIT.washout] = 1e6
    wild_y[: SPLIT.washout] = -1e6
    after = fit_readout(wild_x, wild_y, SPLIT)
    assert np.array_equal(after.alphas, before.alphas)
    assert np.array_equal(after.test_prediction, before.test_prediction)
