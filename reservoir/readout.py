"""Linear readouts, the chronological split and the NRMSE they are scored with.

NRMSE = RMSE / std(y_test): predicting the test mean scores exactly 1, the training mean
about 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-6, 4, 11))


def nrmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """RMSE divided by the standard deviation of ``y_true`` (not its range)."""
    y_true = np.asarray(y_true, dtype=float)
    scale = float(np.std(y_true))
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
    """A fitted readout's test predictions and scores."""

    alpha: float
    validation_nrmse: float
    test_nrmse: float
    test_prediction: np.ndarray


def _ridge(alpha: float) -> Pipeline:
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha))


def fit_ridge_readout(
    x: np.ndarray, y: np.ndarray, split: ChronologicalSplit, alphas: tuple[float, ...] = RIDGE_ALPHAS
) -> ReadoutResult:
    """Choose the ridge on the validation part, refit on the whole train part, test.

    Features are standardised with statistics of the fitting data only.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (n, features) matching y, got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or infinity")
    best_alpha, best_val = alphas[0], np.inf
    for alpha in alphas:
        model = _ridge(alpha).fit(x[split.fit_part], y[split.fit_part])
        score = nrmse(y[split.validation], model.predict(x[split.validation]))
        if score < best_val:
            best_alpha, best_val = alpha, score
    model = _ridge(best_alpha).fit(x[split.train], y[split.train])
    prediction = model.predict(x[split.test])
    return ReadoutResult(best_alpha, best_val, nrmse(y[split.test], prediction), prediction)


def mean_prediction(y: np.ndarray, split: ChronologicalSplit) -> ReadoutResult:
    """The predict-the-training-mean control."""
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
