"""NARMA-10 (the standard form, not ReservoirPy 0.4's variant) and NARMA-20.

NARMA-10:  y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0..9} y(t-i) + 1.5 u(t-9) u(t) + 0.1
NARMA-20:  y(t+1) = tanh(0.3 y(t) + 0.05 y(t) sum_{i=0..19} y(t-i) + 1.5 u(t-19) u(t) + 0.01)

with u(t) i.i.d. uniform on [0, 0.5] and y(t) = u(t) = 0 for t < 0. The tanh of NARMA-20
(Atiya & Parlos 2000, as used by Rodan & Tino 2011) keeps the 20-term recursion from
diverging. The task: from the response to u up to t, predict y(t+1).
"""

from __future__ import annotations

import numpy as np

U_LOW = 0.0
U_HIGH = 0.5
DIVERGENCE_BOUND = 10.0  # |y| beyond this means the recursion has left its basin


def narma_response(u: np.ndarray, order: int = 10) -> np.ndarray:
    """y(1..n) for an input u(0..n-1): element t is y(t+1). Raises if it diverges.

    ``order`` 10 is the standard NARMA-10; ``order`` 20 is the tanh-bounded NARMA-20.
    """
    if order not in (10, 20):
        raise ValueError(f"NARMA order must be 10 or 20, got {order}")
    u = np.asarray(u, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"u must be one-dimensional, got shape {u.shape}")
    n = len(u)
    lag = order - 1
    y = np.zeros(n + 1)  # y[t] is y(t); y(0) = 0
    window = 0.0  # running sum of y(t-lag..t)
    for t in range(n):
        window += y[t]
        if t - order >= 0:
            window -= y[t - order]
        delayed = u[t - lag] if t >= lag else 0.0
        if order == 10:
            y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * window + 1.5 * delayed * u[t] + 0.1
        else:
            y[t + 1] = np.tanh(0.3 * y[t] + 0.05 * y[t] * window + 1.5 * delayed * u[t] + 0.01)
        if not abs(y[t + 1]) <= DIVERGENCE_BOUND:  # also catches NaN
            raise ValueError(
                f"NARMA-{order} diverged for this input (|y| > {DIVERGENCE_BOUND:g} at t = {t + 1}); "
                f"use u in [{U_LOW}, {U_HIGH}]"
            )
    return y[1:]


def narma10_response(u: np.ndarray) -> np.ndarray:
    """NARMA-10 y(1..n) for u(0..n-1) (element t is y(t+1)); raises if it diverges."""
    return narma_response(u, 10)


def narma20_response(u: np.ndarray) -> np.ndarray:
    """NARMA-20 (tanh-bounded) y(1..n) for u(0..n-1); element t is y(t+1)."""
    return narma_response(u, 20)


def uniform_input(n_steps: int, *, seed: int | np.random.Generator) -> np.ndarray:
    """The shared task input: u(t) i.i.d. uniform on [0, 0.5], a pure function of the seed."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.uniform(U_LOW, U_HIGH, n_steps)


def narma10(
    n_steps: int, *, seed: int | np.random.Generator, burn_in: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """``(u, target)`` of length ``n_steps``: u(t) ~ U[0, 0.5] and target(t) = y(t+1).

    The first ``burn_in`` steps of the recursion are generated and discarded, so the
    series starts from the task's stationary regime rather than from y = 0.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    if burn_in < 10:
        raise ValueError(f"burn_in must cover the 10-step memory, got {burn_in}")
    u = uniform_input(burn_in + n_steps, seed=seed)
    y_next = narma10_response(u)
    return u[burn_in:], y_next[burn_in:]
