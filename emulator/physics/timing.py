"""Timing limit of the critical path and the probability of a wrong result."""

from __future__ import annotations

import numpy as np


def fmax_mhz(
    fmax_ref_mhz: np.ndarray,
    core_mv: np.ndarray,
    v_ref_mv: float,
    v_threshold_mv: float,
    alpha: float,
    die_c: np.ndarray,
    t_ref_c: float,
    temp_coeff_per_k: float,
) -> np.ndarray:
    """Highest clock (MHz) the critical path meets at this voltage and die temperature.

    Alpha-power law: gate delay ~ V / (V - V_th)^alpha, so f_max ~ (V - V_th)^alpha / V,
    scaled to ``fmax_ref_mhz`` at ``v_ref_mv``; above ``t_ref_c`` carrier mobility falls
    and f_max drops by ``temp_coeff_per_k`` per K (the high-voltage regime).
    """
    overdrive = np.maximum(core_mv - v_threshold_mv, 1e-3)
    ref_overdrive = v_ref_mv - v_threshold_mv
    voltage_factor = (overdrive / ref_overdrive) ** alpha * (v_ref_mv / core_mv)
    temp_factor = 1.0 - temp_coeff_per_k * (die_c - t_ref_c)
    return fmax_ref_mhz * voltage_factor * np.maximum(temp_factor, 0.05)


def error_probability(freq_mhz: np.ndarray, fmax: np.ndarray, width_frac: float) -> np.ndarray:
    """Probability that one result is wrong: a logistic step of width ``width_frac * f_max``
    centred on f_max (path delays spread around the critical one)."""
    z = (freq_mhz - fmax) / (width_frac * fmax)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
