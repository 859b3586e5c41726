"""NARMA-10, the standard form (not ReservoirPy 0.4's variant).

    y(t+1) = 0.3 y(t) + 0.05 y(t) * sum_{i=0..9} y(t-i) + 1.5 u(t-9) u(t) + 0.1

with u(t) i.i.d. uniform on [0, 0.5] and y(t) = u(t) = 0 for t < 0. The task: from the
response to u up to t, predict y(t+1).
"""

from __future__ import annotations

import numpy as np

U_LOW = 0.0
U_HIGH = 0.5
DIVERGENCE_BOUND = 10.0  # |y| beyond this means the recursion has left its basin


def narma10_response(u: np.ndarray) -> np.ndarray:
    """y(1..n) for an input u(0..n-1): element t is y(t+1). Raises if it diverges."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"u must be one-dimensional, got shape {u.shape}")
    n = len(u)
    y = np.zeros(n + 1)  # y[t] is y(t); y(0) = 0
    for t in range(n):
        window_sum = y[max(0, t - 9): t + 1].sum()
        delayed = u[t - 9] if t >= 9 else 0.0
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * window_sum + 1.5 * delayed * u[t] + 0.1
        if not abs(y[t + 1]) <= DIVERGENCE_BOUND:  # also catches NaN
            raise ValueError(f"NARMA-10 diverged for this input (|y| > 10 at t = {t + 1})")
    return y[1:]


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
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    u = rng.uniform(U_LOW, U_HIGH, burn_in + n_steps)
    y_next = narma10_response(u)
    return u[burn_in:], y_next[burn_in:]
