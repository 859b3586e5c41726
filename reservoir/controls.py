"""The controls a device is scored beside: what its features must beat to mean anything.

Each function returns a feature matrix (rows = steps, in time order) that goes through the
same ridge readout as the device's features:

* input-only (no device at all): ``u(t)`` alone, linear on the last 10 / 30 inputs,
  quadratic (the inputs and all their pairwise products) on the last 10 / 20 / 30, and
  ``u(t)`` plus leaky integrators of u (exponential filters, the memory a thermal low-pass
  gives for free);
* from the device: its features circularly shifted against the target (keeps their own
  autocorrelation, breaks their relation to this input), the features of another run of
  the same device, and the run with its input disconnected (chosen by the caller);
* echo state networks with the device's feature count (:mod:`reservoir.esn`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reservoir.readout import delay_embedding

LEAKY_TIME_CONSTANTS = (2.0, 4.0, 8.0, 16.0)  # steps


def input_now(u: np.ndarray) -> np.ndarray:
    """u(t) alone."""
    return np.asarray(u, dtype=float)[:, None]


def linear_lags(u: np.ndarray, lags: int) -> np.ndarray:
    """u(t), ..., u(t-lags+1)."""
    return delay_embedding(u, lags)


def quadratic_lags(u: np.ndarray, lags: int) -> np.ndarray:
    """The last ``lags`` inputs and all their pairwise products (squares included):
    lags + lags (lags + 1) / 2 columns."""
    x = delay_embedding(u, lags)
    i, j = np.triu_indices(lags)
    return np.column_stack([x, x[:, i] * x[:, j]])


def leaky_integrators(u: np.ndarray, time_constants: tuple[float, ...] = LEAKY_TIME_CONSTANTS) -> np.ndarray:
    """u(t) and, per time constant tau (steps), s(t) = (1 - 1/tau) s(t-1) + u(t) / tau."""
    u = np.asarray(u, dtype=float)
    columns = [u]
    for tau in time_constants:
        if tau < 1:
            raise ValueError(f"a leaky integrator's time constant must be >= 1 step, got {tau}")
        a = 1.0 / tau
        s = np.empty_like(u)
        state = 0.0
        for t, value in enumerate(u):
            state = (1 - a) * state + a * value
            s[t] = state
        columns.append(s)
    return np.column_stack(columns)


def circular_shift(features: np.ndarray, shift: int) -> np.ndarray:
    """Rows moved ``shift`` steps later in time, wrapping around: row t of the result is
    row (t - shift) mod n of the input. Columns are never mixed."""
    features = np.asarray(features, dtype=float)
    n = len(features)
    if n == 0 or shift % n == 0:
        raise ValueError(f"a circular shift of {shift} over {n} steps leaves the features in place")
    return np.roll(features, shift, axis=0)


INPUT_ONLY: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "input_now": ("ridge on u(t) alone", input_now),
    "input_linear_10": ("ridge on the last 10 inputs", lambda u: linear_lags(u, 10)),
    "input_linear_30": ("ridge on the last 30 inputs", lambda u: linear_lags(u, 30)),
    "input_quadratic_10": ("ridge on the last 10 inputs and their pairwise products",
                           lambda u: quadratic_lags(u, 10)),
    "input_quadratic_20": ("ridge on the last 20 inputs and their pairwise products",
                           lambda u: quadratic_lags(u, 20)),
    "input_quadratic_30": ("ridge on the last 30 inputs and their pairwise products",
                           lambda u: quadratic_lags(u, 30)),
    "input_leaky": ("ridge on u(t) and leaky integrators of u (tau = 2, 4, 8, 16 steps)",
                    leaky_integrators),
}
"""Input-only controls: name -> (description, features from u)."""
