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
    return fmax_at_temperature_ref_mhz(fmax_ref_mhz, core_mv, v_ref_mv, v_threshold_mv, alpha) * (
        fmax_temperature_factor(die_c, t_ref_c, temp_coeff_per_k))


def fmax_at_temperature_ref_mhz(
    fmax_ref_mhz: np.ndarray, core_mv: np.ndarray, v_ref_mv: float, v_threshold_mv: float,
    alpha: float,
) -> np.ndarray:
    """The voltage part of :func:`fmax_mhz` (MHz at ``t_ref``): the alpha-power law."""
    overdrive = np.maximum(core_mv - v_threshold_mv, 1e-3)
    ref_overdrive = v_ref_mv - v_threshold_mv
    return fmax_ref_mhz * (overdrive / ref_overdrive) ** alpha * (v_ref_mv / core_mv)


def fmax_temperature_factor(die_c: np.ndarray, t_ref_c: float, temp_coeff_per_k: float) -> np.ndarray:
    """The temperature part of :func:`fmax_mhz`: ``1 - coeff (T - T_ref)``, at least 0.05."""
    return np.maximum(1.0 - temp_coeff_per_k * (die_c - t_ref_c), 0.05)


def error_probability(freq_mhz: np.ndarray, fmax: np.ndarray, width_frac: float) -> np.ndarray:
    """Probability that one result is wrong: a logistic step of width ``width_frac * f_max``
    centred on f_max (path delays spread around the critical one)."""
    z = (freq_mhz - fmax) / (width_frac * fmax)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
