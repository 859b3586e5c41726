import numpy as np
import pytest

from reservoir.readout import (
    ChronologicalSplit,
    delay_embedding,
    fit_ridge_readout,
    mean_prediction,
    nrmse,
)
from reservoir.stats import clearly_below, mean_interval
from reservoir.tasks.narma import narma10


def test_nrmse_is_normalised_by_std_not_range() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    pred = y + 0.5
    assert nrmse(y, pred) == pytest.approx(0.5 / np.std(y))
    assert nrmse(y, np.full(4, y.mean())) == pytest.approx(1.0)


def test_split_of_the_reference_protocol() -> None:
    split = ChronologicalSplit.make(3200, washout=200)
    assert split.as_dict() == {"washout": 200, "train": 2000, "validation": 400, "test": 1000}


def test_predict_the_mean_is_near_one_on_narma() -> None:
    scores = []
    for seed in range(3):
        _, y = narma10(3200, seed=seed)
        scores.append(mean_prediction(y, ChronologicalSplit.make(3200)).test_nrmse)
    assert all(0.97 < s < 1.06 for s in scores), scores


def test_linear_readout_on_ten_inputs_matches_reference_figure() -> None:
    # reservoir.md: 0.593 +- 0.020 on this protocol
    scores = []
    for seed in range(3):
        u, y = narma10(3200, seed=seed)
        result = fit_ridge_readout(delay_embedding(u, 10), y, ChronologicalSplit.make(3200))
        scores.append(result.test_nrmse)
    assert 0.53 < np.mean(scores) < 0.66, scores


def test_readout_on_pure_noise_does_not_beat_the_mean() -> None:
    _, y = narma10(1600, seed=1)
    noise = np.random.default_rng(0).normal(size=(1600, 20))
    result = fit_ridge_readout(noise, y, ChronologicalSplit.make(1600))
    assert result.test_nrmse > 0.97


def test_interval_and_comparison_rule() -> None:
    a = mean_interval([0.50, 0.52, 0.51])
    b = mean_interval([0.90, 0.95, 0.92])
    assert a.low < a.mean < a.high
    assert clearly_below(a, b) and not clearly_below(b, a)
    wide = mean_interval([0.3, 0.9, 0.6])
    assert not clearly_below(wide, b)
    with pytest.raises(ValueError):
        mean_interval([0.5])
