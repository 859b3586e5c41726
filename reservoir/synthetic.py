"""Synthetic devices with known answers, to check that the evaluation judges them right.

Each is a pure function of the input u, the data seed and a serial (its "silicon": gains,
time constants, reservoir weights), returning :class:`reservoir.evaluation.RunData`:

* ``memoryless``: features are noisy nonlinear functions of the current input only;
* ``leaky``: features are leaky integrators of u (a thermal low-pass) plus noise, time
  constants spread from 2 to 16 steps (with 4 features: the leaky-integrator control's);
* ``esn``: features are the states of an echo state network driven by u, plus noise;
* ``delay``: features are u(t), ..., u(t-k+1) exactly (a delay line; memory capacity k).

``disconnected=True`` gives the same device with its input held at the mean of u.
"""

from __future__ import annotations

import zlib

import numpy as np

from reservoir.controls import leaky_integrators
from reservoir.esn import EsnParams, esn_states
from reservoir.evaluation import RunData
from reservoir.readout import delay_embedding
from reservoir.tasks import uniform_input

KINDS = ("memoryless", "leaky", "esn", "delay")
ESN_DEVICE = EsnParams(spectral_radius=0.6, input_scaling=5.0, leak=1.0, bias=1.0)


def _serial_seed(serial: str) -> int:
    return zlib.crc32(serial.encode())


def synthetic_features(kind: str, u: np.ndarray, *, serial: str, seed: int, n_features: int = 8,
                       noise: float = 0.01) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features (n, n_features) of the synthetic device ``kind`` for input u; ``noise`` is
    the Gaussian noise sd relative to each feature's sd."""
    silicon = np.random.default_rng(_serial_seed(serial))
    u = np.asarray(u, dtype=float)
    if kind == "memoryless":
        gains = silicon.uniform(1.0, 4.0, n_features)
        offsets = silicon.uniform(-0.5, 0.5, n_features)
        x = np.tanh(np.outer(u - 0.25, gains) + offsets)
    elif kind == "leaky":
        taus = tuple(float(t) for t in np.geomspace(2.0, 16.0, n_features) * silicon.uniform(0.9, 1.1))
        x = leaky_integrators(u, taus)[:, 1:]
    elif kind == "esn":
        x = esn_states(u, n_features, ESN_DEVICE, seed=_serial_seed(serial) % 2**31)
    elif kind == "delay":
        x = delay_embedding(u, n_features)
    else:
        raise ValueError(f"unknown synthetic device {kind!r}; known: {KINDS}")
    if noise > 0:
        sd = x.std(axis=0)
        sd = np.where(sd > 0, sd, 1e-3)
        x = x + np.random.default_rng([seed, _serial_seed(serial)]).normal(size=x.shape) * sd * noise
    return x, tuple(f"{kind}{i}" for i in range(n_features))


def synthetic_run(kind: str, *, seed: int, serial: str, steps: int, n_features: int = 8,
                  noise: float = 0.01, disconnected: bool = False) -> RunData:
    """One run of a synthetic device on the shared uniform input of ``seed``."""
    u = uniform_input(steps, seed=seed)
    x, names = synthetic_features(kind, u, serial=serial, seed=seed, n_features=n_features, noise=noise)
    if disconnected:  # input held at its mean; noise relative to the driven features' spread
        driven, _ = synthetic_features(kind, u, serial=serial, seed=seed, n_features=n_features, noise=0)
        flat, _ = synthetic_features(kind, np.full(steps, float(u.mean())), serial=serial, seed=seed,
                                     n_features=n_features, noise=0)
        rng = np.random.default_rng([seed, 99, _serial_seed(serial)])
        x = flat + rng.normal(size=flat.shape) * driven.std(axis=0) * max(noise, 0.01)
    tag = "off" if disconnected else "on"
    return RunData(seed, serial, u, x, names, f"synthetic/{kind}-{serial}-{seed}-{tag}", disconnected)


def synthetic_runs(kind: str, *, seeds: list[int], serials: list[str], steps: int, n_features: int = 8,
                   noise: float = 0.01, with_disconnected: bool = True) -> list[RunData]:
    """Every seed x serial run of a synthetic device, plus one disconnected run per pair."""
    runs = []
    for serial in serials:
        for seed in seeds:
            runs.append(synthetic_run(kind, seed=seed, serial=serial, steps=steps,
                                      n_features=n_features, noise=noise))
            if with_disconnected:
                runs.append(synthetic_run(kind, seed=seed, serial=serial, steps=steps,
                                          n_features=n_features, noise=noise, disconnected=True))
    return runs
