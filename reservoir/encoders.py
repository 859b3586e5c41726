"""Encoders: map the task input u(t) to a device knob, one value per (sub-)step.

Every encoder clamps into the device model's safe envelope, so an experiment can never
command a clock or voltage outside it, and names the control path its knob travels
(``control_path``), which the capture records beside each control event.

* :class:`DifficultyEncoder`: the published D = d0 / (u + eps) share difficulty. The
  difficulty changes only how often the host samples a Poisson process of shares; it does
  not change the chip at all.
* :func:`FrequencyEncoder` (the clock) and :func:`VoltageEncoder` (core voltage), both a
  :class:`LinearEncoder`:
  linear over the model's safe range; these reach the chip's thermal and power state.
* :class:`TimeMultiplexEncoder`: wraps one of those; each input is held for tau, split
  into N sub-intervals (virtual nodes) of theta = tau / N, and in sub-interval i the knob
  gets the base encoding of mid + m_i (u - mid), with m a fixed random mask in [-1, 1]
  (Appeltant et al. 2011). Features are taken per sub-interval and folded back to one row
  of N x F features per input (:func:`fold_subintervals`).

The common interface (``Encoder``): ``name``, ``knob``, ``unit``, ``control_path``,
``sub_steps`` (knob settings per input, 1 unless multiplexed), ``encode(u)`` (one value
per knob setting, ``len(u) * sub_steps`` of them) and ``describe()`` (JSON-able record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asic_bridge.models import CORE_VOLTAGE, DIFFICULTY, FREQUENCY, DeviceSpec
from reservoir.tasks.narma import U_HIGH, U_LOW

PATH_DIFFICULTY = "pool: Stratum mining.set_difficulty to the miner (host side only)"
PATH_FREQUENCY = "device: set_knob('frequency') (AxeOS PATCH /api/system, UART PLL write, cgminer)"
PATH_VOLTAGE = "device: set_knob('core_voltage') (AxeOS coreVoltage, S9 chain supply)"


def _linear(spec: DeviceSpec, knob: str, u: np.ndarray, u_low: float, u_high: float) -> np.ndarray:
    low, high = spec.knob_range(knob)
    frac = (np.asarray(u, dtype=float) - u_low) / (u_high - u_low)
    return np.clip(low + frac * (high - low), low, high)


@dataclass(frozen=True, slots=True)
class LinearEncoder:
    """u in [u_low, u_high] -> ``knob`` linear over the model's safe range of it, clamped."""

    spec: DeviceSpec
    knob: str
    unit: str
    name: str
    control_path: str
    u_low: float = U_LOW
    u_high: float = U_HIGH
    sub_steps: int = 1

    def encode(self, u: np.ndarray) -> np.ndarray:
        """The knob's value (in ``unit``) for each u, clamped to the envelope."""
        return _linear(self.spec, self.knob, u, self.u_low, self.u_high)

    def describe(self) -> dict[str, Any]:
        return {"encoder": self.name, "knob": self.knob, "unit": self.unit,
                "control_path": self.control_path, "range": list(self.spec.knob_range(self.knob))}


def FrequencyEncoder(spec: DeviceSpec, u_low: float = U_LOW, u_high: float = U_HIGH) -> LinearEncoder:
    """u -> clock in MHz, linear over the model's safe clock range."""
    return LinearEncoder(spec, FREQUENCY.name, FREQUENCY.unit, "frequency", PATH_FREQUENCY, u_low, u_high)


def VoltageEncoder(spec: DeviceSpec, u_low: float = U_LOW, u_high: float = U_HIGH) -> LinearEncoder:
    """u -> core voltage in mV, linear over the model's safe range."""
    return LinearEncoder(spec, CORE_VOLTAGE.name, CORE_VOLTAGE.unit, "voltage", PATH_VOLTAGE, u_low, u_high)


@dataclass(frozen=True, slots=True)
class DifficultyEncoder:
    """The published encoding: share difficulty D = d0 / (u + eps) (d0 = 25, eps = 0.05)."""

    spec: DeviceSpec
    d0: float = 25.0
    eps: float = 0.05
    knob: str = DIFFICULTY.name
    unit: str = DIFFICULTY.unit
    name: str = "difficulty"
    control_path: str = PATH_DIFFICULTY
    sub_steps: int = 1

    def encode(self, u: np.ndarray) -> np.ndarray:
        """Difficulty for each u, clamped to the model's difficulty range."""
        low, high = self.spec.difficulty_range
        u = np.asarray(u, dtype=float)
        if np.any(u + self.eps <= 0):
            raise ValueError("u + eps must be positive for the difficulty encoding")
        return np.clip(self.d0 / (u + self.eps), low, high)

    def mean_rate_difficulty(self, u_mean: float = (U_LOW + U_HIGH) / 2) -> float:
        """The fixed difficulty with the same mean share rate as this encoding,
        d0 / (E[u] + eps), since the share rate is proportional to 1 / D."""
        return self.d0 / (u_mean + self.eps)

    def describe(self) -> dict[str, Any]:
        return {"encoder": self.name, "knob": self.knob, "unit": self.unit,
                "control_path": self.control_path, "d0": self.d0, "eps": self.eps}


BaseEncoder = LinearEncoder | DifficultyEncoder


class WrapsEncoder:
    """An encoder that drives another encoder's (``base``) knob, by its unit and path."""

    __slots__ = ()
    base: Any

    @property
    def knob(self) -> str:
        return str(self.base.knob)

    @property
    def unit(self) -> str:
        return str(self.base.unit)

    @property
    def control_path(self) -> str:
        return str(getattr(self.base, "control_path", ""))


@dataclass(frozen=True, slots=True)
class TimeMultiplexEncoder(WrapsEncoder):
    """Each input held for tau = ``sub_steps`` sub-intervals; sub-interval i sets the base
    encoder's knob for mid + mask[i] (u - mid). ``mask_seed`` fixes the mask (uniform in
    [-1, 1]); the hold per knob setting is tau / ``sub_steps``."""

    base: BaseEncoder
    sub_steps: int = 8
    mask_seed: int = 0
    mask: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sub_steps < 1:
            raise ValueError(f"sub_steps must be >= 1, got {self.sub_steps}")
        mask = np.random.default_rng(self.mask_seed).uniform(-1.0, 1.0, self.sub_steps)
        object.__setattr__(self, "mask", mask)

    @property
    def name(self) -> str:
        return f"tm-{self.base.name}"

    def masked_inputs(self, u: np.ndarray) -> np.ndarray:
        """mid + mask[i] (u(t) - mid) for every input t and sub-interval i, in time order."""
        u = np.asarray(u, dtype=float)
        mid = (U_LOW + U_HIGH) / 2
        return (mid + np.outer(u - mid, self.mask)).reshape(-1)

    def encode(self, u: np.ndarray) -> np.ndarray:
        """Knob values, ``len(u) * sub_steps`` of them, clamped by the base encoder."""
        return self.base.encode(self.masked_inputs(u))

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "encoder": self.name, "sub_steps": self.sub_steps,
                "mask_seed": self.mask_seed, "mask": [round(float(m), 12) for m in self.mask]}


Encoder = LinearEncoder | DifficultyEncoder | TimeMultiplexEncoder
ENCODINGS = ("frequency", "voltage", "difficulty", "tm-frequency", "tm-voltage", "tm-difficulty")


def encoder_for(name: str, spec: DeviceSpec, *, sub_steps: int = 8, mask_seed: int = 0) -> Encoder:
    """The encoder called ``name`` for a device model (``clock`` is ``frequency``)."""
    base_name = name.removeprefix("tm-")
    bases = {"frequency": FrequencyEncoder, "clock": FrequencyEncoder,
             "voltage": VoltageEncoder, "difficulty": DifficultyEncoder}
    if base_name not in bases:
        raise ValueError(f"unknown encoding {name!r}; known: {ENCODINGS}")
    base = bases[base_name](spec)
    if name.startswith("tm-"):
        return TimeMultiplexEncoder(base, sub_steps=sub_steps, mask_seed=mask_seed)
    return base


def fold_subintervals(
    values: np.ndarray, names: tuple[str, ...] | list[str], sub_steps: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n_inputs * N, F) per-sub-interval features -> (n_inputs, N * F), with names
    ``{name}@{i}`` for sub-interval i (virtual node i)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(f"features {values.shape} do not match {len(names)} names")
    if len(values) % sub_steps:
        raise ValueError(f"{len(values)} sub-steps is not a multiple of {sub_steps}")
    n = len(values) // sub_steps
    folded = values.reshape(n, sub_steps * values.shape[1])
    return folded, tuple(f"{name}@{i}" for i in range(sub_steps) for name in names)
