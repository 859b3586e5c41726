"""Thermal network per chip (die -> heatsink -> local air), the sensors' own thermal
lags, and the firmware's fan curve."""

from __future__ import annotations

import math

import numpy as np


def sink_air_conductance_w_per_k(
    natural_w_per_k: np.ndarray, forced_w_per_k: np.ndarray, fan_fraction: float
) -> np.ndarray:
    """Heatsink-to-air conductance: natural convection plus forced convection that grows
    with airflow to the power 0.8 (turbulent heat transfer, Dittus-Boelter)."""
    return natural_w_per_k + forced_w_per_k * max(fan_fraction, 0.0) ** 0.8


def local_air_c(
    ambient_c: float, chip_power_w: np.ndarray, chips_per_chain: int, air_flow_w_per_k: float
) -> np.ndarray:
    """Air temperature at each chip: inlet air warmed by the chips upstream on its chain."""
    if chips_per_chain <= 1:
        return np.full_like(chip_power_w, ambient_c)
    per_chain = chip_power_w.reshape(-1, chips_per_chain)
    upstream = np.cumsum(per_chain, axis=1) - per_chain
    return ambient_c + (upstream / max(air_flow_w_per_k, 1e-6)).reshape(-1)


def step_thermal(
    die_c: np.ndarray,
    sink_c: np.ndarray,
    power_w: np.ndarray,
    air_c: np.ndarray,
    r_die_sink: np.ndarray,
    c_die: float,
    g_sink_air: np.ndarray,
    c_sink: float,
    dt_s: float,
    tau_die_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Advance die and heatsink temperatures by ``dt_s`` (explicit Euler, substepped so
    each substep stays under a fifth of the shortest die time constant ``tau_die_s``,
    computed from ``r_die_sink * c_die`` unless given)."""
    tau_die = float(np.min(r_die_sink)) * c_die if tau_die_s is None else tau_die_s
    substeps = max(1, math.ceil(dt_s / (0.2 * tau_die)))
    h = dt_s / substeps
    for _ in range(substeps):
        q_die_sink = (die_c - sink_c) / r_die_sink
        die_c = die_c + h * (power_w - q_die_sink) / c_die
        sink_c = sink_c + h * (q_die_sink - g_sink_air * (sink_c - air_c)) / c_sink
    return die_c, sink_c


def first_order_lag(value: np.ndarray | float, target: np.ndarray | float, tau_s: float,
                    dt_s: float) -> np.ndarray | float:
    """One exact step of ``tau dT/dt = target - T`` with the target held over ``dt_s``
    (a sensor or board with its own thermal mass; stable for any step)."""
    if tau_s <= 0:
        return target
    return target + (value - target) * math.exp(-dt_s / tau_s)


class FanController:
    """The firmware's fan law on the hottest chip temperature (degC): a linear curve from
    ``min_pct`` at ``low_c`` to 100 % at ``high_c`` (ESP-Miner's ``automatic_fan_speed``
    and bmminer's PWM table are both of this form), followed by the fan's first-order
    speed response (``tau_s``). Output and state in percent of full speed."""

    def __init__(
        self, *, low_c: float, high_c: float, min_pct: float, tau_s: float,
        start_pct: float = 100.0,
    ) -> None:
        if not high_c > low_c:
            raise ValueError(f"fan curve needs high_c > low_c, got {low_c}..{high_c} degC")
        self.low_c = low_c
        self.high_c = high_c
        self.min_pct = min_pct
        self.tau_s = tau_s
        self.command_pct = start_pct
        self.actual_pct = start_pct
        self.manual_pct: float | None = None

    def curve_pct(self, temp_c: float) -> float:
        """The commanded speed (%) the firmware's curve gives at ``temp_c``."""
        span = (temp_c - self.low_c) / (self.high_c - self.low_c)
        return min(max(self.min_pct + span * (100.0 - self.min_pct), self.min_pct), 100.0)

    def step(self, hottest_c: float, dt_s: float) -> float:
        """Update command and actual speed; returns the actual speed in percent."""
        self.command_pct = self.manual_pct if self.manual_pct is not None else self.curve_pct(hottest_c)
        self.actual_pct = float(first_order_lag(self.actual_pct, self.command_pct, self.tau_s, dt_s))
        return self.actual_pct
