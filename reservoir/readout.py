"""Linear readouts, the chronological split and the NRMSE they are scored with.

NRMSE = RMSE / std(y_test): predicting the test mean scores exactly 1, the training mean
about 1. :func:`range_nrmse` (RMSE / (max - min) of the test target) exists only to set a
figure beside published ones that used it, and is labelled wherever it is shown.

The ridge is solved by a singular value decomposition of the standardised fitting rows
(never the normal equations, which break near condition numbers of 1e13 at tiny ridges):
one decomposition gives the whole ridge path, singular values below 1e-12 of the largest
are dropped. The ridge is chosen on the validation part only, then the readout is refit
on the whole train part (fitting + validation) and applied once to the test part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-8, 4, 13))
SINGULAR_FLOOR = 1e-12  # relative to the largest singular value


def nrmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """RMSE divided by the standard deviation of ``y_true`` (not its range)."""
    y_true = np.asarray(y_true, dtype=float)
    scale = float(np.std(y_true))
    if scale == 0:
        raise ValueError("NRMSE is undefined for a constant target")
    return float(np.sqrt(np.mean((np.asarray(y_pred, dtype=float) - y_true) ** 2)) / scale)


def range_nrmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """RMSE divided by the range (max - min) of ``y_true``: the normalisation some
    published figures (and ReservoirPy's default) use; about 6x smaller on NARMA-10."""
    y_true = np.asarray(y_true, dtype=float)
    scale = float(np.ptp(y_true))
    if scale == 0:
        raise ValueError("NRMSE is undefined for a constant target")
    return float(np.sqrt(np.mean((np.asarray(y_pred, dtype=float) - y_true) ** 2)) / scale)


@dataclass(frozen=True, slots=True)
class ChronologicalSplit:
    """Index ranges in time order: washout (discarded), train (its tail is the
    validation part used to choose the ridge), test."""

    washout: int
    train_end: int  # train = [washout, train_end)
    validation_start: int  # validation = [validation_start, train_end)
    n: int  # test = [train_end, n)

    @classmethod
    def make(
        cls, n: int, *, washout: int = 200, test_fraction: float = 1 / 3,
        validation_fraction: float = 0.2,
    ) -> ChronologicalSplit:
        """Washout first, then train and test in time order (3,200 steps -> 200 washout,
        2,000 train of which the last 400 validate, 1,000 test)."""
        usable = n - washout
        if usable < 30:
            raise ValueError(f"{n} steps leave too little after a washout of {washout}")
        n_test = round(usable * test_fraction)
        train_end = n - n_test
        n_train = train_end - washout
        validation_start = train_end - round(n_train * validation_fraction)
        return cls(washout, train_end, validation_start, n)

    @property
    def train(self) -> slice:
        return slice(self.washout, self.train_end)

    @property
    def fit_part(self) -> slice:
        return slice(self.washout, self.validation_start)

    @property
    def validation(self) -> slice:
        return slice(self.validation_start, self.train_end)

    @property
    def test(self) -> slice:
        return slice(self.train_end, self.n)

    def as_dict(self) -> dict[str, int]:
        return {
            "washout": self.washout,
            "train": self.train_end - self.washout,
            "validation": self.train_end - self.validation_start,
            "test": self.n - self.train_end,
        }


@dataclass(frozen=True, slots=True)
class ReadoutResult:
    """A fitted readout's test predictions and scores (one target)."""

    alpha: float
    validation_nrmse: float
    test_nrmse: float
    test_prediction: np.ndarray


@dataclass(frozen=True, slots=True)
class MultiReadout:
    """A readout of several targets at once: per target column the ridge chosen on
    validation, its validation NRMSE, and the test predictions (n_test, n_targets)."""

    alphas: np.ndarray
    validation_nrmse: np.ndarray
    test_prediction: np.ndarray
    alpha_on_edge: np.ndarray  # the chosen ridge is the first or last of the grid


class _Standardiser:
    """Column means and standard deviations of the rows it was fitted on (constant
    columns get a scale of 1 so they stay 0)."""

    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(axis=0)
        scale = x.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


class _RidgePath:
    """Ridge solutions for many ridges from one SVD of the standardised rows."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.standardise = _Standardiser(x)
        self.y_mean = y.mean(axis=0)
        u, s, vt = np.linalg.svd(self.standardise(x), full_matrices=False)
        keep = s > SINGULAR_FLOOR * (s[0] if len(s) else 0.0)
        self.s = s[keep]
        self.v = vt[keep].T
        self.uty = u[:, keep].T @ (y - self.y_mean)  # (rank, n_targets)

    def predict_each(self, x: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Predictions (n_rows, n_targets), target k with ridge ``alphas[k]``."""
        shrink = self.s[:, None] / (self.s[:, None] ** 2 + np.asarray(alphas, dtype=float)[None, :])
        return self.standardise(x) @ (self.v @ (shrink * self.uty)) + self.y_mean

    def predict_path(self, x: np.ndarray, alphas: tuple[float, ...]) -> np.ndarray:
        """Predictions for every ridge: (n_alphas, n_rows, n_targets)."""
        projected = self.standardise(x) @ self.v  # (n, rank)
        return np.stack([
            projected @ ((self.s / (self.s**2 + a))[:, None] * self.uty) + self.y_mean for a in alphas
        ])


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (n, features) matching y, got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or infinity")
    if not np.all(np.isfinite(y)):
        raise ValueError("target contains NaN or infinity")
    return x, y


def fit_readout(
    x: np.ndarray, y: np.ndarray, split: ChronologicalSplit, alphas: tuple[float, ...] = RIDGE_ALPHAS
) -> MultiReadout:
    """Ridge readout of one or several targets (columns of ``y``), ridge chosen per
    target on the validation part, refit on the train part, predictions on test.

    Features are standardised with statistics of the rows being fitted only.
    """
    x, y = _check(x, y)
    y2 = y[:, None] if y.ndim == 1 else y
    path = _RidgePath(x[split.fit_part], y2[split.fit_part])
    predictions = path.predict_path(x[split.validation], alphas)  # (a, n_val, k)
    y_val = y2[split.validation]
    scale = y_val.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    scores = np.sqrt(np.mean((predictions - y_val) ** 2, axis=1)) / scale  # (a, k)
    best = np.argmin(scores, axis=0)
    chosen = np.asarray(alphas)[best]
    final = _RidgePath(x[split.train], y2[split.train])
    test_prediction = final.predict_each(x[split.test], chosen)
    return MultiReadout(
        alphas=chosen,
        validation_nrmse=scores[best, np.arange(len(best))],
        test_prediction=test_prediction,
        alpha_on_edge=(best == 0) | (best == len(alphas) - 1),
    )


def fit_ridge_readout(
    x: np.ndarray, y: np.ndarray, split: ChronologicalSplit, alphas: tuple[float, ...] = RIDGE_ALPHAS
) -> ReadoutResult:
    """Choose the ridge on the validation part, refit on the whole train part, test."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError("fit_ridge_readout takes one target; use fit_readout for several")
    result = fit_readout(x, y, split, alphas)
    prediction = result.test_prediction[:, 0]
    return ReadoutResult(
        float(result.alphas[0]), float(result.validation_nrmse[0]),
        nrmse(y[split.test], prediction), prediction,
    )


def mean_prediction(y: np.ndarray, split: ChronologicalSplit) -> ReadoutResult:
    """The predict-the-training-mean control (the mean of the train part, never test)."""
    y = np.asarray(y, dtype=float)
    prediction = np.full(split.n - split.train_end, float(np.mean(y[split.train])))
    val = nrmse(y[split.validation], np.full(split.train_end - split.validation_start,
                                             float(np.mean(y[split.fit_part]))))
    return ReadoutResult(0.0, val, nrmse(y[split.test], prediction), prediction)


def delay_embedding(u: np.ndarray, lags: int) -> np.ndarray:
    """Columns u(t), u(t-1), ..., u(t-lags+1), zero before the series starts."""
    u = np.asarray(u, dtype=float)
    out = np.zeros((len(u), lags))
    for k in range(lags):
        out[k:, k] = u[: len(u) - k]
    return out
