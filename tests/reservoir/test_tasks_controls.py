"""Tasks, controls and encoders: pure, bounded, aligned, and clamped."""

import numpy as np
import pytest

from asic_bridge.models import LV06, S9, SPECS
from reservoir.controls import INPUT_ONLY, circular_shift, leaky_integrators, quadratic_lags
from reservoir.encoders import (
    DifficultyEncoder,
    TimeMultiplexEncoder,
    VoltageEncoder,
    encoder_for,
    fold_subintervals,
)
from reservoir.tasks import (
    TASKS,
    delayed_inputs,
    delayed_parity,
    narma10_response,
    narma20_response,
    squared_correlations,
    task_for,
    uniform_input,
)


def test_narma20_matches_hand_values_and_is_bounded() -> None:
    u = np.full(25, 0.5)
    y = narma20_response(u)
    assert y[0] == pytest.approx(np.tanh(0.01))
    y1 = np.tanh(0.3 * y[0] + 0.05 * y[0] * y[0] + 0.01)
    assert y[1] == pytest.approx(y1)
    prev, window = y[18], y[:19].sum()  # t = 19: first step with u(t-19)
    assert y[19] == pytest.approx(np.tanh(0.3 * prev + 0.05 * prev * window + 1.5 * 0.25 + 0.01))
    big = narma20_response(uniform_input(3000, seed=1))
    assert np.all(np.abs(big) < 1)


def test_narma10_running_window_matches_direct_sum() -> None:
    u = uniform_input(300, seed=4)
    y = narma10_response(u)
    direct = np.zeros(301)
    for t in range(300):
        s = direct[max(0, t - 9): t + 1].sum()
        delayed = u[t - 9] if t >= 9 else 0
        direct[t + 1] = 0.3 * direct[t] + 0.05 * direct[t] * s + 1.5 * delayed * u[t] + 0.1
    assert np.allclose(y, direct[1:])


def test_tasks_are_pure_functions_of_the_input() -> None:
    u = uniform_input(500, seed=3)
    assert np.array_equal(uniform_input(500, seed=3), u)
    for task in TASKS.values():
        assert np.array_equal(task.targets(u), task.targets(u.copy()))
    with pytest.raises(ValueError, match="unknown task"):
        task_for("narma30")


def test_delayed_inputs_and_parity_are_aligned() -> None:
    u = np.array([0.1, 0.4, 0.3, 0.0, 0.5])
    d = delayed_inputs(u, 2)
    assert d[:, 0].tolist() == u.tolist()
    assert d[3, 1] == u[2] and d[3, 2] == u[1] and d[1, 2] == 0
    # b = 0 1 1 0 1; xor of b(t-1), b(t-2)
    assert delayed_parity(u).tolist() == [0, 0, 1, 0, 1]
    assert delayed_parity(u, delay=0, order=3).tolist() == [0, 1, 0, 0, 0]


def test_squared_correlation() -> None:
    t = np.random.default_rng(0).normal(size=(200, 2))
    assert squared_correlations(t, 3 * t + 1) == pytest.approx([1.0, 1.0])
    assert squared_correlations(t, np.ones((200, 2))).tolist() == [0.0, 0.0]


def test_circular_shift_moves_rows_not_columns() -> None:
    x = np.arange(20.0).reshape(10, 2)
    shifted = circular_shift(x, 3)
    for t in range(10):
        assert shifted[t].tolist() == x[(t - 3) % 10].tolist()
    with pytest.raises(ValueError):
        circular_shift(x, 10)


def test_input_only_controls() -> None:
    u = uniform_input(100, seed=0)
    assert quadratic_lags(u, 10).shape == (100, 10 + 55)
    q = quadratic_lags(u, 3)
    assert q[5, 3] == pytest.approx(u[5] ** 2) and q[5, 4] == pytest.approx(u[5] * u[4])
    leaky = leaky_integrators(u, (2.0,))
    assert leaky[0, 1] == pytest.approx(u[0] / 2) and leaky[1, 1] == pytest.approx(u[0] / 4 + u[1] / 2)
    for name, (_, make) in INPUT_ONLY.items():
        x = make(u)
        assert x.shape[0] == 100, name
        assert np.allclose(make(np.concatenate([u[:50], np.full(50, 9.0)]))[:50], x[:50]), name  # causal


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_encoders_clamp_and_name_their_path(spec) -> None:
    u = np.array([-1.0, 0.0, 0.25, 0.5, 3.0])
    for name in ("frequency", "voltage", "difficulty", "tm-frequency", "tm-voltage", "tm-difficulty"):
        enc = encoder_for(name, spec, sub_steps=4)
        values = enc.encode(np.clip(u, 0, 0.5) if "difficulty" in name else u)
        low, high = spec.knob_range(enc.knob)
        assert np.all((values >= low) & (values <= high)), name
        assert len(values) == 5 * enc.sub_steps
        assert enc.control_path and enc.describe()["control_path"] == enc.control_path
    v = VoltageEncoder(spec).encode(np.array([0.0, 0.5]))
    assert v.tolist() == list(spec.core_voltage_range_mv)


def test_time_multiplexing_masks_each_input_per_sub_interval() -> None:
    enc = TimeMultiplexEncoder(VoltageEncoder(LV06), sub_steps=5, mask_seed=1)
    assert np.array_equal(enc.mask, TimeMultiplexEncoder(VoltageEncoder(LV06), 5, 1).mask)
    masked = enc.masked_inputs(np.array([0.5, 0.25]))
    assert masked[:5] == pytest.approx(0.25 + 0.25 * enc.mask)
    assert masked[5:] == pytest.approx(np.full(5, 0.25))  # the mid input is unmoved by any mask
    assert enc.name == "tm-voltage" and enc.knob == "core_voltage"
    assert DifficultyEncoder(S9).sub_steps == 1


def test_fold_subintervals_groups_rows_of_one_input() -> None:
    rows = np.arange(24.0).reshape(12, 2)  # 4 inputs x 3 sub-intervals x 2 features
    folded, names = fold_subintervals(rows, ("a", "b"), 3)
    assert folded.shape == (4, 6)
    assert folded[1].tolist() == rows[3:6].reshape(-1).tolist()
    assert names[:4] == ("a@0", "b@0", "a@1", "b@1")
    with pytest.raises(ValueError):
        fold_subintervals(rows[:11], ("a", "b"), 3)
