"""Thermal network per chip: die -> heatsink -> local air, and a fan controller."""

from __future__ import annotations

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
) -> tuple[np.ndarray, np.ndarray]:
    """Advance die and heatsink temperatures by ``dt_s`` (explicit Euler, substepped so
    each substep stays well under the die time constant)."""
    tau_die = float(np.min(r_die_sink)) * c_die
    substeps = max(1, int(np.ceil(dt_s / (0.2 * tau_die))))
    h = dt_s / substeps
    for _ in range(substeps):
        q_die_sink = (die_c - sink_c) / r_die_sink
        die_c = die_c + h * (power_w - q_die_sink) / c_die
        sink_c = sink_c + h * (q_die_sink - g_sink_air * (sink_c - air_c)) / c_sink
    return die_c, sink_c


class FanController:
    """A PI controller on the hottest chip, as miner firmware runs it, with a first-order
    fan response. Output and state in percent of full speed."""

    def __init__(
        self, *, target_c: float, min_pct: float, kp_pct_per_k: float, ki_pct_per_k_s: float,
        tau_s: float, start_pct: float = 50.0,
    ) -> None:
        self.target_c = target_c
        self.min_pct = min_pct
        self.kp = kp_pct_per_k
        self.ki = ki_pct_per_k_s
        self.tau_s = tau_s
        self.command_pct = start_pct
        self.actual_pct = start_pct
        self._integral = start_pct
        self.manual_pct: float | None = None

    def step(self, hottest_c: float, dt_s: float) -> float:
        """Update command and actual speed; returns the actual speed in percent."""
        if self.manual_pct is not None:
            self.command_pct = self.manual_pct
        else:
            error = hottest_c - self.target_c
            proposed = self._integral + self.ki * error * dt_s
            self._integral = min(max(proposed, self.min_pct), 100.0)  # anti-windup
            self.command_pct = min(max(self._integral + self.kp * error, self.min_pct), 100.0)
        self.actual_pct += (self.command_pct - self.actual_pct) * min(1.0, dt_s / self.tau_s)
        return self.actual_pct
