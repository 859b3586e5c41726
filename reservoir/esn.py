"""An echo state network as a scikit-learn transformer: the reference reservoir that a
device is compared with at the same size (number of features) and the same noise.

``EchoStateNetwork(n_units=N).fit(U).transform(U)`` runs the recurrence
``x(t) = (1 - leak) x(t-1) + leak tanh(W x(t-1) + W_in u(t) + b)`` over the rows of U in
time order and returns the states, with Gaussian noise added to each unit: ``noise_fraction`` is the
noise variance over the unit's signal variance, one number for all units or one per unit
(to give the network the device's distribution of signal-to-noise ratios).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class EchoStateNetwork(TransformerMixin, BaseEstimator):
    """Echo state network (Jaeger 2001); rows of X are time steps, in order.

    ``spectral_radius`` of the recurrent matrix, ``input_scaling`` of the input weights,
    ``leak`` rate in (0, 1], ``noise_fraction``: added noise variance over signal
    variance per unit (0 = noiseless), ``random_state``: seed of weights and noise.
    """

    def __init__(
        self,
        n_units: int = 100,
        *,
        spectral_radius: float = 0.9,
        input_scaling: float = 0.5,
        leak: float = 1.0,
        bias: float = 0.1,
        noise_fraction: float | np.ndarray = 0.0,
        random_state: int | None = 0,
    ) -> None:
        self.n_units = n_units
        self.spectral_radius = spectral_radius
        self.input_scaling = input_scaling
        self.leak = leak
        self.bias = bias
        self.noise_fraction = noise_fraction
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: object = None) -> EchoStateNetwork:
        X = validate_data(self, X, reset=True)
        if self.n_units < 1:
            raise ValueError(f"n_units must be >= 1, got {self.n_units}")
        if not 0 < self.leak <= 1:
            raise ValueError(f"leak must be in (0, 1], got {self.leak}")
        noise = np.broadcast_to(np.asarray(self.noise_fraction, dtype=float), (self.n_units,))
        if np.any(noise < 0):
            raise ValueError("noise_fraction must be >= 0")
        self.noise_fraction_ = noise.copy()
        rng = np.random.default_rng(self.random_state)
        w = rng.normal(size=(self.n_units, self.n_units)) / np.sqrt(self.n_units)
        radius = float(np.max(np.abs(np.linalg.eigvals(w)))) if self.n_units > 1 else abs(float(w[0, 0]))
        self.w_ = w * (self.spectral_radius / max(radius, 1e-12))
        self.w_in_ = rng.uniform(-1, 1, size=(self.n_units, X.shape[1])) * self.input_scaling
        self.b_ = rng.uniform(-1, 1, size=self.n_units) * self.bias
        self.noise_seed_ = int(rng.integers(0, 2**63 - 1))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "w_")
        X = validate_data(self, X, reset=False)
        states = np.empty((X.shape[0], self.n_units))
        x = np.zeros(self.n_units)
        drive = X @ self.w_in_.T + self.b_
        for t in range(X.shape[0]):
            x = (1 - self.leak) * x + self.leak * np.tanh(self.w_ @ x + drive[t])
            states[t] = x
        if np.any(self.noise_fraction_ > 0):
            scale = np.sqrt(self.noise_fraction_ * states.var(axis=0))
            noise = np.random.default_rng(self.noise_seed_).normal(size=states.shape)
            states = states + noise * scale
        return states


def unexplained_fractions(
    features: np.ndarray, u: np.ndarray, train: slice, lags: int = 30
) -> np.ndarray:
    """Per feature, 1 - R^2 of a ridge fit on the last ``lags`` inputs (training part only):
    the share of its variance the input history does not explain linearly (noise plus
    anything nonlinear). Constant features count as 0.99; all clipped to [0, 0.99]."""
    from sklearn.linear_model import RidgeCV

    from reservoir.readout import delay_embedding

    history = delay_embedding(u, lags)[train]
    fractions = []
    for column in np.asarray(features, dtype=float)[train].T:
        if column.std() == 0:
            fractions.append(0.99)
            continue
        model = RidgeCV(alphas=np.logspace(-4, 3, 8)).fit(history, column)
        fractions.append(1.0 - model.score(history, column))
    return np.clip(np.asarray(fractions, dtype=float), 0.0, 0.99)
