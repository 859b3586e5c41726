import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from reservoir.esn import EchoStateNetwork, unexplained_fractions
from reservoir.readout import ChronologicalSplit, fit_ridge_readout
from reservoir.tasks.narma import narma10

TIME_ORDERED = "rows are time steps of a recurrence: their order and context matter by design"


@parametrize_with_checks(
    [EchoStateNetwork(n_units=8)],
    expected_failed_checks=lambda _: {
        "check_methods_sample_order_invariance": TIME_ORDERED,
        "check_methods_subset_invariance": TIME_ORDERED,
    },
)
def test_sklearn_conventions(estimator, check) -> None:
    check(estimator)


def test_esn_learns_narma_better_than_its_noisy_twin() -> None:
    scores = {}
    for noise in (0.0, 1.0):
        u, y = narma10(2200, seed=0)
        states = EchoStateNetwork(100, noise_fraction=noise, random_state=1).fit_transform(u[:, None])
        scores[noise] = fit_ridge_readout(states, y, ChronologicalSplit.make(2200)).test_nrmse
    assert scores[0.0] < 0.5  # a 100-unit ESN is far better than the 10-input linear 0.59
    assert scores[1.0] > scores[0.0] + 0.05


def test_unexplained_fraction_tells_noise_from_signal() -> None:
    u, _ = narma10(1000, seed=2)
    rng = np.random.default_rng(0)
    clean = np.column_stack([u, np.roll(u, 3)])
    noisy = clean + rng.normal(scale=u.std() * 3, size=clean.shape)
    train = slice(100, 800)
    both = unexplained_fractions(np.column_stack([clean[:, 0], noisy[:, 1], np.ones(1000)]), u, train)
    assert both[0] < 0.05 and both[1] > 0.8 and both[2] == 0.99


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        EchoStateNetwork(n_units=0).fit(np.zeros((5, 1)))
