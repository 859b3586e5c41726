"""Telemetry as each firmware reports it: sampled at its period, noisy and quantised.

Quantities carry units. Set-point echoes (``frequency``, ``core_voltage``) are reported
because firmware reports them; :data:`asic_bridge.models.KNOB_ECHOES` lists them so that
analysis can tell a device's response from a copy of its input.
"""

from __future__ import annotations

import numpy as np

from asic_bridge.events import TelemetryEvent
from emulator.physics.model import DevicePhysics, PhysicsState
from emulator.profiles import PhysicsProfile


def _quantise(value: float, step: float) -> float:
    return float(np.round(value / step) * step) if step > 0 else float(value)


class TelemetrySampler:
    """Produces the telemetry of one device model from the physics state."""

    def __init__(
        self, profile: PhysicsProfile, physics: DevicePhysics, device_id: str, rng: np.random.Generator
    ) -> None:
        self.profile = profile
        self.physics = physics
        self.device_id = device_id
        self.rng = rng
        chains = profile.spec.chains
        self.hashrate_ghs_est = np.full(chains, physics.freq_mhz[0] * 1e-3 * physics.cores_per_chip
                                        * profile.spec.chips_per_chain)
        self.hw_errors_total = np.zeros(chains, dtype=np.int64)

    def count_results(self, state: PhysicsState, dt_s: float, hw_errors_per_chip: np.ndarray) -> None:
        """Feed one step's chip-level results into the firmware's hashrate estimate: an
        exponential average over ``hashrate_window_s`` of ticket-difficulty nonce counts."""
        p = self.profile
        hashes_per_ticket = p.ticket_difficulty * 2.0**32
        per_chain_hs = (state.hashrate_hs * (1.0 - state.error_probability)).reshape(
            p.spec.chains, -1
        ).sum(axis=1)
        tickets = self.rng.poisson(per_chain_hs * dt_s / hashes_per_ticket)
        measured_ghs = tickets * hashes_per_ticket / dt_s / 1e9
        weight = min(1.0, dt_s / p.hashrate_window_s)
        self.hashrate_ghs_est += weight * (measured_ghs - self.hashrate_ghs_est)
        self.hw_errors_total += hw_errors_per_chip.reshape(p.spec.chains, -1).sum(axis=1)

    def vr_temp_c(self, state: PhysicsState) -> float:
        """Voltage-regulator temperature (degC): ~4 K/W of its own loss above a board
        that sits half-way between ambient and the heatsink (estimate)."""
        p = self.profile
        loss_w = float(state.chip_power_w.sum()) * (1.0 / p.regulator_efficiency - 1.0)
        return p.ambient_c + 4.0 * loss_w + 0.5 * float(self.physics.sink_c.mean() - p.ambient_c)

    def sample(self, t_ns: int, state: PhysicsState, knob_mv: float) -> list[TelemetryEvent]:
        """One telemetry sample at firmware time ``t_ns`` (host latency is added by the caller)."""
        p = self.profile
        model = p.spec.model
        ph = self.physics
        rng = self.rng
        dev = self.device_id

        def temp(value: float) -> float:
            return _quantise(value + rng.normal(0.0, p.temp_noise_c), p.temp_resolution_c)

        def ev(quantity: str, value: float, unit: str, index: int | None = None) -> TelemetryEvent:
            return TelemetryEvent(t_ns, dev, quantity, float(value), unit, index)

        out: list[TelemetryEvent] = []
        fan_rpm = max(0.0, state.fan_pct / 100.0 * p.fan_max_rpm + rng.normal(0.0, 20.0))
        freq = float(ph.freq_mhz.mean())
        if model == "lv06":
            out += [
                ev("chip_temp", temp(float(ph.die_c[0])), "degC"),
                ev("vr_temp", temp(self.vr_temp_c(state)), "degC"),
                ev("power", _quantise(state.wall_power_w + rng.normal(0.0, p.power_noise_w),
                                      p.power_resolution_w), "W"),
                ev("core_voltage_actual", _quantise(ph.core_mv[0] + rng.normal(0.0, 2.0), 1.0), "mV"),
                ev("fan_pct", round(state.fan_pct), "%"),
                ev("fan_rpm", round(fan_rpm), "rpm"),
                ev("hashrate", round(float(self.hashrate_ghs_est.sum()), 2), "GH/s"),
                ev("frequency", freq, "MHz"),
                ev("core_voltage", knob_mv, "mV"),
                ev("overheat_mode", float(state.tripped), "1"),
            ]
        else:
            # cgminer-style firmware: per-chain chip/board temperatures in the API, no power
            first_chain = 6 if model == "s9" else 0
            per_chain_die = ph.die_c.reshape(p.spec.chains, -1)
            per_chain_sink = ph.sink_c.reshape(p.spec.chains, -1)
            for i in range(p.spec.chains):
                c = first_chain + i
                out += [
                    ev(f"chain{c}_chip_temp", temp(float(per_chain_die[i].max())), "degC"),
                    ev(f"chain{c}_board_temp", temp(float(per_chain_sink[i].mean()) - 5.0), "degC"),
                    ev(f"chain{c}_hashrate", round(float(self.hashrate_ghs_est[i]), 2), "GH/s"),
                    ev(f"chain{c}_hw_errors", int(self.hw_errors_total[i]), "1"),
                ]
            out += [
                ev("hashrate", round(float(self.hashrate_ghs_est.sum()), 2), "GH/s"),
                ev("fan_rpm", round(fan_rpm), "rpm"),
                ev("frequency", freq, "MHz"),
                ev("core_voltage", knob_mv, "mV"),
                ev("overheat_mode", float(state.tripped), "1"),
            ]
        return out
