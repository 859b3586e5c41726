"""Encoders: map the task input u(t) to a device knob, one value per step.

Every encoder clamps into the device model's safe envelope, so an experiment can never
command a clock or voltage outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asic_bridge.models import DIFFICULTY, FREQUENCY, DeviceSpec
from reservoir.tasks.narma import U_HIGH, U_LOW


@dataclass(frozen=True, slots=True)
class FrequencyEncoder:
    """u in [u_low, u_high] -> clock in MHz, linear over the model's safe clock range."""

    spec: DeviceSpec
    u_low: float = U_LOW
    u_high: float = U_HIGH
    knob: str = FREQUENCY.name
    unit: str = FREQUENCY.unit
    name: str = "frequency"

    def encode(self, u: np.ndarray) -> np.ndarray:
        """Clock in MHz for each u, clamped to the envelope."""
        low, high = self.spec.frequency_range_mhz
        frac = (np.asarray(u, dtype=float) - self.u_low) / (self.u_high - self.u_low)
        return np.clip(low + frac * (high - low), low, high)


@dataclass(frozen=True, slots=True)
class DifficultyEncoder:
    """The published encoding: share difficulty D = d0 / (u + eps) (d0 = 25, eps = 0.05)."""

    spec: DeviceSpec
    d0: float = 25.0
    eps: float = 0.05
    knob: str = DIFFICULTY.name
    unit: str = DIFFICULTY.unit
    name: str = "difficulty"

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


Encoder = FrequencyEncoder | DifficultyEncoder
ENCODINGS = ("frequency", "difficulty")


def encoder_for(name: str, spec: DeviceSpec) -> Encoder:
    """The encoder called ``name`` for a device model."""
    if name == "frequency":
        return FrequencyEncoder(spec)
    if name == "difficulty":
        return DifficultyEncoder(spec)
    raise ValueError(f"unknown encoding {name!r}; known: {ENCODINGS}")
