"""Memory capacity (Jaeger 2001) and a nonlinear memory task (delayed parity / XOR).

Memory capacity: MC = sum_k MC_k with MC_k the squared correlation, on held-out (test)
data, between u(t-k) and a readout trained to recall it; delays k = 0..max_delay, so a
delay line holding u(t)..u(t-k+1) has MC = k. The input is the shared i.i.d. uniform u,
so MC costs no extra device time. MC <= the number of independent state variables; only
held-out estimates are reported, because fitted ones exceed that bound by overfitting.

Delayed parity: the binary input b(t) = [u(t) >= 0.25] (the shared uniform input cut at
its median, so it too is scored from the same run; a run driven with u in {0, 0.5} gives
the same b), and target(t) = b(t-d) xor ... xor b(t-d-order+1). ``order`` 2 is delayed XOR.
"""

from __future__ import annotations

import numpy as np

from reservoir.tasks.narma import U_HIGH, U_LOW

BINARY_THRESHOLD = (U_LOW + U_HIGH) / 2


def delayed_inputs(u: np.ndarray, max_delay: int) -> np.ndarray:
    """Targets of the memory-capacity task: column k is u(t-k), k = 0..max_delay (0 before
    the series starts; the washout must be at least ``max_delay``)."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"u must be one-dimensional, got shape {u.shape}")
    if max_delay < 0:
        raise ValueError(f"max_delay must be >= 0, got {max_delay}")
    out = np.zeros((len(u), max_delay + 1))
    for k in range(max_delay + 1):
        out[k:, k] = u[: len(u) - k]
    return out


def squared_correlations(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per column, the squared Pearson correlation of prediction and target (0 where
    either is constant): the MC_k curve when columns are delays."""
    t = np.asarray(targets, dtype=float)
    p = np.asarray(predictions, dtype=float)
    tc = t - t.mean(axis=0)
    pc = p - p.mean(axis=0)
    denom = np.sqrt((tc**2).sum(axis=0) * (pc**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, (tc * pc).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)
    return r**2


def binary_input(u: np.ndarray) -> np.ndarray:
    """b(t) = 1 where u(t) >= 0.25 (the median of U[0, 0.5]), else 0."""
    return (np.asarray(u, dtype=float) >= BINARY_THRESHOLD).astype(float)


def delayed_parity(u: np.ndarray, *, delay: int = 1, order: int = 2) -> np.ndarray:
    """target(t) = parity of b(t-delay), ..., b(t-delay-order+1) (0 before the start)."""
    if delay < 0 or order < 1:
        raise ValueError(f"need delay >= 0 and order >= 1, got {delay}, {order}")
    b = binary_input(u).astype(int)
    n = len(b)
    out = np.zeros(n, dtype=int)
    for k in range(delay, delay + order):
        shifted = np.zeros(n, dtype=int)
        shifted[k:] = b[: n - k]
        out ^= shifted
    return out.astype(float)
