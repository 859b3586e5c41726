import numpy as np
import pytest

from reservoir.tasks.narma import narma10, narma10_response


def test_response_matches_hand_computed_values() -> None:
    u = np.full(12, 0.5)
    y = narma10_response(u)
    # y(1) = 0.1 (no history); y(2) = 0.3*0.1 + 0.05*0.1*0.1 + 0.1
    assert y[0] == pytest.approx(0.1)
    assert y[1] == pytest.approx(0.1305)
    y3 = 0.3 * 0.1305 + 0.05 * 0.1305 * (0.1 + 0.1305) + 0.1
    assert y[2] == pytest.approx(y3)
    # t = 9 is the first step with u(t-9) present: + 1.5 * 0.5 * 0.5
    prev = y[8]
    window = y[:9].sum()  # y(1..9) plus y(0) = 0
    assert y[9] == pytest.approx(0.3 * prev + 0.05 * prev * window + 0.375 + 0.1)


def test_standard_form_not_reservoirpy_variant() -> None:
    # a single input pulse at t = 0 reaches y through u(t-9) u(t) only at t = 9
    u = np.zeros(15)
    u[0] = 0.5
    u[9] = 0.4
    y = narma10_response(u)
    base = narma10_response(np.zeros(15))
    assert np.allclose(y[:9], base[:9])
    assert y[9] - base[9] == pytest.approx(1.5 * 0.5 * 0.4)


def test_generator_is_pure_in_its_seed_and_bounded() -> None:
    u1, y1 = narma10(500, seed=7)
    u2, y2 = narma10(500, seed=7)
    u3, _ = narma10(500, seed=8)
    assert np.array_equal(u1, u2) and np.array_equal(y1, y2)
    assert not np.array_equal(u1, u3)
    assert u1.min() >= 0.0 and u1.max() <= 0.5
    assert np.all(np.isfinite(y1)) and np.abs(y1).max() < 1.0


def test_burn_in_is_discarded() -> None:
    u, y = narma10(50, seed=3, burn_in=100)
    u_all = np.random.default_rng(3).uniform(0, 0.5, 150)
    assert np.array_equal(u, u_all[100:])
    assert np.allclose(y, narma10_response(u_all)[100:])


def test_divergence_is_an_error() -> None:
    with pytest.raises(ValueError, match="diverged"):
        narma10_response(np.full(200, 3.0))
