"""Finite-sample statistics for a binary predictor: ROC AUC with a bootstrap interval, a
permutation test against chance, a mutual-information estimate with its interval, and an
exact test of "predictor beats the majority baseline".

All resampling takes an explicit ``numpy.random.Generator`` so results reproduce.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula; ties count one half."""
    y = np.asarray(labels, dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("AUC needs both classes in the sample")
    ranks = stats.rankdata(scores)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_bootstrap(
    labels: np.ndarray, scores: np.ndarray, rng: np.random.Generator, *, n_boot: int = 300,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC (stratified: classes resampled apart)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y], s[~y]
    values = np.empty(n_boot)
    for i in range(n_boot):
        bp = pos[rng.integers(0, len(pos), len(pos))]
        bn = neg[rng.integers(0, len(neg), len(neg))]
        both = np.concatenate([bp, bn])
        ranks = stats.rankdata(both)
        values[i] = (ranks[: len(bp)].sum() - len(bp) * (len(bp) + 1) / 2) / (len(bp) * len(bn))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def auc_permutation_p(
    labels: np.ndarray, scores: np.ndarray, rng: np.random.Generator, *, n_perm: int = 2000
) -> float:
    """One-sided permutation p-value of "AUC > chance": labels shuffled, scores kept.
    p = (1 + #{AUC_perm >= AUC}) / (1 + n_perm)."""
    y = np.asarray(labels, dtype=bool)
    n1, n = int(y.sum()), len(y)
    n0 = n - n1
    ranks = stats.rankdata(scores)
    observed = (ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    hits = 0
    for _ in range(n_perm):
        pick = rng.choice(n, size=n1, replace=False)
        if (ranks[pick].sum() - n1 * (n1 + 1) / 2) / (n1 * n0) >= observed:
            hits += 1
    return (1 + hits) / (1 + n_perm)


def _mi_bits(x: np.ndarray, y: np.ndarray, nx: int, ny: int) -> float:
    """Plug-in mutual information (bits) of two small-integer arrays, Miller-Madow corrected."""
    joint = np.bincount(x * ny + y, minlength=nx * ny).reshape(nx, ny).astype(float)
    n = joint.sum()
    p = joint / n
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    plug_in = float((p[nz] * np.log2(p[nz] / (px @ py)[nz])).sum())
    occupied_x, occupied_y = int((px > 0).sum()), int((py > 0).sum())
    return plug_in - (occupied_x - 1) * (occupied_y - 1) / (2 * n * np.log(2))


def mutual_information(
    labels: np.ndarray, scores: np.ndarray, rng: np.random.Generator, *, bins: int = 10,
    n_boot: int = 200, n_perm: int = 200, confidence: float = 0.95,
) -> dict:
    """I(score bin; label) in bits: the score cut at its ``bins`` quantiles, plug-in estimate
    with the Miller-Madow bias correction, a bootstrap interval and the permutation null.

    By the data-processing inequality this bounds I(features; label) from below for the
    features the predictor used. Independence implies 0; the estimate's interval and the
    null's upper quantile say how far from 0 a finite sample can wander.
    """
    y = np.asarray(labels, dtype=int)
    edges = np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1])
    x = np.searchsorted(edges, scores, side="right")
    n = len(y)
    estimate = _mi_bits(x, y, bins, 2)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        boots[i] = _mi_bits(x[idx], y[idx], bins, 2)
    null = np.array([_mi_bits(x, rng.permutation(y), bins, 2) for _ in range(n_perm)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return {
        "bits": estimate,
        "interval": [float(low), float(high)],
        "null_q95": float(np.quantile(null, 0.95)),
        "p_value": float((1 + np.sum(null >= estimate)) / (1 + n_perm)),
        "label_entropy_bits": float(stats.entropy(np.bincount(y, minlength=2), base=2)),
        "bins": bins,
        "estimator": "plug-in on score deciles, Miller-Madow corrected; bootstrap percentile interval",
    }


def beats_majority(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Exact McNemar test of "the predictor's accuracy exceeds the majority-class baseline".

    Discordant pairs: b = predictor right where the baseline is wrong, c = the reverse;
    one-sided p = P(Binomial(b + c, 1/2) >= b) (1 when there are none).
    """
    y = np.asarray(labels, dtype=bool)
    pred = np.asarray(predicted, dtype=bool)
    majority = bool(y.mean() > 0.5)
    right = pred == y
    base_right = y == majority
    b = int(np.sum(right & ~base_right))
    c = int(np.sum(~right & base_right))
    p = float(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0
    return {
        "accuracy": float(right.mean()),
        "majority_accuracy": float(base_right.mean()),
        "discordant_predictor_right": b,
        "discordant_baseline_right": c,
        "p_value": p,
    }


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)
