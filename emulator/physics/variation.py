"""Process variation: each device serial gets its own chips.

The variation is a pure function of the serial (SHA-256 of it seeds the generator), so a
serial always yields the same silicon and two serials differ, independently of the
experiment's seed. Each chip's multiplier is the device-level draw times a chip draw
(chips on one board share a wafer lot more often than not; the split is an estimate).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from emulator.profiles import PhysicsProfile


@dataclass(frozen=True, slots=True)
class ChipVariation:
    """Multipliers per chip (arrays of length chip_count), 1.0 = the median chip."""

    leakage: np.ndarray
    fmax: np.ndarray
    thermal_resistance: np.ndarray
    c_eff: np.ndarray


def serial_seed(serial: str) -> int:
    """A 64-bit seed derived from a device serial."""
    return int.from_bytes(hashlib.sha256(serial.encode("utf-8")).digest()[:8], "little")


def draw_variation(profile: PhysicsProfile, serial: str) -> ChipVariation:
    """The chips of device ``serial``: half the variance shared by the device, half per chip."""
    rng = np.random.default_rng(serial_seed(serial))
    n = profile.spec.chip_count
    split = np.sqrt(0.5)

    def lognormal(sigma: float) -> np.ndarray:
        return np.exp(rng.normal(0.0, sigma * split) + rng.normal(0.0, sigma * split, n))

    def normal(sigma_frac: float) -> np.ndarray:
        return 1.0 + rng.normal(0.0, sigma_frac * split) + rng.normal(0.0, sigma_frac * split, n)

    return ChipVariation(
        leakage=lognormal(profile.var_leakage_sigma),
        fmax=normal(profile.var_fmax_sigma_frac),
        thermal_resistance=normal(profile.var_rth_sigma_frac),
        c_eff=normal(profile.var_ceff_sigma_frac),
    )
