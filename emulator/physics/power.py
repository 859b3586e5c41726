"""Chip power: dynamic switching power and temperature-dependent leakage."""

from __future__ import annotations

import numpy as np


def dynamic_power_w(c_eff_f: np.ndarray, core_mv: np.ndarray, freq_mhz: np.ndarray) -> np.ndarray:
    """P_dyn = C_eff * V^2 * f, with C_eff in farads, V from mV, f from MHz; watts."""
    volts = core_mv * 1e-3
    return c_eff_f * volts * volts * (freq_mhz * 1e6)


def leakage_power_w(
    leak_ref_w: np.ndarray,
    core_mv: np.ndarray,
    v_ref_mv: float,
    die_c: np.ndarray,
    t_ref_c: float,
    doubling_k: float,
) -> np.ndarray:
    """Leakage: ``leak_ref * (V/V_ref)^3 * 2^((T - T_ref)/doubling)``, in watts.

    The cubic voltage term stands for drain-induced barrier lowering; the exponential in
    temperature is sub-threshold leakage (a positive feedback through the die).
    """
    return leakage_at_voltage_w(leak_ref_w, core_mv, v_ref_mv) * leakage_temperature_factor(
        die_c, t_ref_c, doubling_k)


def leakage_at_voltage_w(leak_ref_w: np.ndarray, core_mv: np.ndarray, v_ref_mv: float) -> np.ndarray:
    """The leakage at ``t_ref``: ``leak_ref * (V/V_ref)^3`` (W)."""
    ratio = core_mv / v_ref_mv
    return leak_ref_w * ratio * ratio * ratio


def leakage_temperature_factor(die_c: np.ndarray, t_ref_c: float, doubling_k: float) -> np.ndarray:
    """``2^((T - T_ref)/doubling)``: leakage rises with the die temperature."""
    return np.exp2(np.minimum((die_c - t_ref_c) / doubling_k, 30.0))
