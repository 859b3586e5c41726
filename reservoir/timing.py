"""Share-timing statistics with intervals: inter-arrival CV, 20-bin histogram entropy, a
goodness-of-fit test against the exponential law, the dispersion index of window counts,
and the host's own receive-timestamp jitter floor.

Under a Poisson process inter-arrivals are exponential: CV = 1, window counts have
dispersion index 1. Each statistic comes with its N, a bootstrap interval and the value
an exponential sample of the same size gives (the control).
"""

from __future__ import annotations

import socket
import threading
import time
from functools import lru_cache

import numpy as np
from scipy import stats

ENTROPY_BINS = 20


def _ks_expon(sorted_x: np.ndarray) -> np.ndarray:
    """KS distance of each row (sorted) to the exponential with the row's own mean."""
    n = sorted_x.shape[-1]
    scale = sorted_x.mean(axis=-1, keepdims=True)
    cdf = 1 - np.exp(-sorted_x / scale)
    i = np.arange(1, n + 1)
    return np.maximum((i / n - cdf).max(axis=-1), (cdf - (i - 1) / n).max(axis=-1))


@lru_cache(maxsize=64)
def _ks_null(n: int, n_mc: int = 1000, seed: int = 12345) -> np.ndarray:
    """Null distribution of the estimated-rate KS statistic for n points (scale-free)."""
    rng = np.random.default_rng(seed + n)
    out = []
    for start in range(0, n_mc, 200):
        sims = np.sort(rng.exponential(1.0, (min(200, n_mc - start), n)), axis=1)
        out.append(_ks_expon(sims))
    return np.concatenate(out)


def exponential_test(intervals: np.ndarray) -> dict:
    """Lilliefors-type KS test of "exponential with unknown rate": the statistic uses the
    rate estimated from the data; its p-value comes from 1000 exponential samples of the
    same size treated the same way. Also Anderson-Darling (scipy)."""
    x = np.sort(np.asarray(intervals, dtype=float))
    n = len(x)
    if n < 5:
        return {"n": n, "ks": None, "p_value": None, "note": "fewer than 5 intervals"}
    ks = float(_ks_expon(x[None, :])[0])
    null = _ks_null(n)
    p = float((1 + np.sum(null >= ks)) / (1 + len(null)))
    ad = stats.anderson(x, dist="expon", method="interpolate")
    return {
        "n": n,
        "ks": ks,
        "p_value": p,
        "ad": float(ad.statistic),
        "ad_p_value": float(ad.pvalue),
        "method": "KS with rate estimated from the data, Monte Carlo p (1000 draws, Lilliefors); "
        "Anderson-Darling (scipy, p interpolated from Stephens' tables, clipped to [0.01, 0.15])",
    }


def entropy20_rows(x: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of a 20-bin equal-width histogram from 0 to each row's largest
    value, for every row of a 2-D array (vectorised)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    rows, m = x.shape
    top = x.max(axis=1, keepdims=True)
    bins = np.minimum((ENTROPY_BINS * x / np.where(top > 0, top, 1.0)).astype(int), ENTROPY_BINS - 1)
    counts = np.bincount(
        (bins + ENTROPY_BINS * np.arange(rows)[:, None]).ravel(), minlength=rows * ENTROPY_BINS
    ).reshape(rows, ENTROPY_BINS)
    p = counts / m
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(axis=1)


def entropy20(intervals: np.ndarray) -> float:
    """Shannon entropy (bits) of a 20-bin equal-width histogram from 0 to the largest interval."""
    return float(entropy20_rows(np.asarray(intervals, dtype=float)[None, :])[0])


def _cv_rows(x: np.ndarray) -> np.ndarray:
    return np.std(x, axis=1, ddof=1) / np.mean(x, axis=1)


def dispersion(t_s: np.ndarray, window_s: float, span: tuple[float, float]) -> tuple[float, int, np.ndarray]:
    """Variance / mean of share counts in consecutive windows over ``span`` (s)."""
    start, end = span
    n_windows = int((end - start) // window_s)
    if n_windows < 2:
        return float("nan"), n_windows, np.array([])
    counts = np.bincount(((t_s - start) // window_s).astype(int), minlength=n_windows)[:n_windows]
    mean = counts.mean()
    return (float(counts.var(ddof=1) / mean) if mean > 0 else float("nan")), n_windows, counts


def timing_stats(
    t_ns: np.ndarray,
    rng: np.random.Generator,
    *,
    window_s: float = 1.0,
    span_s: tuple[float, float] | None = None,
    n_boot: int = 300,
) -> dict:
    """All per-cell statistics of a share-time series (ns), each with its interval and N."""
    t = np.sort(np.asarray(t_ns, dtype=np.int64)) / 1e9
    n = len(t)
    out: dict = {"shares": n}
    if n < 6:
        return out | {"note": "fewer than 6 shares: no statistics"}
    ia = np.diff(t)
    ia = ia[ia > 0] if np.any(ia <= 0) else ia
    m = len(ia)
    resampled = ia[rng.integers(0, m, (n_boot, m))]
    cv_b = _cv_rows(resampled)
    ent_b = entropy20_rows(resampled)
    sims = rng.exponential(1.0, (200, m))
    cv_null = _cv_rows(sims)
    ent_null = entropy20_rows(sims)
    out["intervals"] = m
    out["mean_interval_s"] = float(ia.mean())
    out["cv"] = {
        "value": float(_cv_rows(ia[None, :])[0]),
        "ci": [float(q) for q in np.quantile(cv_b, [0.025, 0.975])],
        "poisson_control": [float(q) for q in np.quantile(cv_null, [0.025, 0.975])],
    }
    out["entropy20_bits"] = {
        "value": entropy20(ia),
        "ci": [float(q) for q in np.quantile(ent_b, [0.025, 0.975])],
        "poisson_control": [float(q) for q in np.quantile(ent_null, [0.025, 0.975])],
    }
    out["exponential_test"] = exponential_test(ia)
    span = span_s or (float(t[0]), float(t[-1]))
    d, n_windows, counts = dispersion(t, window_s, span)
    if n_windows >= 2 and np.isfinite(d):
        db = [
            np.var(c, ddof=1) / np.mean(c)
            for c in (counts[rng.integers(0, n_windows, n_windows)] for _ in range(n_boot))
            if np.mean(c) > 0
        ]
        chi = (n_windows - 1) * d
        p = 2 * min(stats.chi2.cdf(chi, n_windows - 1), stats.chi2.sf(chi, n_windows - 1))
        out["dispersion_index"] = {
            "value": d,
            "ci": [float(q) for q in np.quantile(db, [0.025, 0.975])],
            "windows": n_windows,
            "window_s": window_s,
            "poisson_p": float(p),
        }
    return out


def host_jitter_floor(n: int = 200, period_s: float = 0.002, timeout_s: float = 5.0) -> dict:
    """The bridge's own receive-timestamp jitter on this host, now: a sender thread writes a
    line every ``period_s`` over loopback TCP stamped just before ``send``; the receiver
    stamps it as the pool does (kernel SO_TIMESTAMPNS where available, else userspace).
    Returns the spread of (receive stamp - send stamp). Bounded in count and time."""
    from asic_bridge.stratum.rxtime import enable_rx_timestamps, recv_timestamped

    listener = socket.create_server(("127.0.0.1", 0))
    sent: list[int] = []
    received: list[tuple[int, str]] = []
    deadline = time.monotonic() + timeout_s
    try:
        client = socket.create_connection(listener.getsockname(), timeout=timeout_s)
        server, _ = listener.accept()
        server.settimeout(timeout_s)
        enable_rx_timestamps(server)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send() -> None:
            for _ in range(n):
                if time.monotonic() > deadline:
                    break
                sent.append(time.time_ns())
                client.sendall(b"x")
                time.sleep(period_s)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        while len(received) < n and time.monotonic() < deadline:
            try:
                data, t_ns, source = recv_timestamped(server, 4096)
            except TimeoutError:
                break
            if not data:
                break
            received.extend((t_ns, str(source)) for _ in data)
        sender.join(timeout_s)
        client.close()
        server.close()
    finally:
        listener.close()
    k = min(len(sent), len(received))
    if k < 10:
        return {"n": k, "note": "too few loopback messages"}
    delay_us = (np.array([r[0] for r in received[:k]]) - np.array(sent[:k])) / 1e3
    q = np.quantile(delay_us, [0.5, 0.95, 0.99])
    return {
        "n": k,
        "source": received[0][1],
        "median_us": float(q[0]),
        "p95_us": float(q[1]),
        "p99_us": float(q[2]),
        "std_us": float(np.std(delay_us)),
        "method": "loopback TCP, receive stamp (as the pool stamps shares) - send stamp",
    }
