"""Telemetry as each firmware reports it: sampled at its period, noisy and quantised.

Quantities, units and indices are those of :mod:`asic_bridge.telemetry_schema`, and each
model reports exactly the set its firmware's API gives a hashrc client (:data:`REPORTED`):
the LV06 what AxeOS ``/api/system/info`` has, the S9 what bmminer ``summary+stats`` has,
the LB-Box what Goldshell ``/mcb/cgminer?cgminercmd=devs`` and ``/mcb/setting`` have. A
test holds the in-process set equal to the set read through each model's live face.
Set-point echoes (``frequency``, ``core_voltage``, ``fan_duty``) are reported because
firmware reports them; :data:`asic_bridge.models.KNOB_ECHOES` lists them so that analysis
can tell a device's response from a copy of its input.
"""

from __future__ import annotations

import numpy as np

from asic_bridge.events import TelemetryEvent
from asic_bridge.telemetry_schema import SCHEMA, check
from emulator.physics.model import DevicePhysics, PhysicsState
from emulator.profiles import PhysicsProfile

FANS: dict[str, int] = {"lv06": 1, "s9": 2, "lbbox": 2}
"""Fans each model's firmware reports (S9: fan3 and fan6 of bmminer's stats; LB-Box: two
in Goldshell's ``fanspeed``)."""

INPUT_VOLTAGE_MV: dict[str, float] = {"lv06": 5000.0, "s9": 12_000.0, "lbbox": 12_000.0}
"""Nominal supply voltage (mV): the LV06's 5 V barrel jack, the 12 V PSU rail of the others."""

REPORTED: dict[str, frozenset[str]] = {
    "lv06": frozenset({
        "hashrate", "power", "input_voltage", "input_current", "core_voltage",
        "core_voltage_actual", "frequency", "fan_duty", "fan_rpm", "chip_temp", "vr_temp",
        "shares_accepted", "shares_rejected", "best_diff", "uptime", "overheat_mode"}),
    "s9": frozenset({
        "hashrate", "hashrate_avg", "shares_accepted", "shares_rejected", "hw_errors",
        "uptime", "best_diff", "chain_chips", "chain_hashrate", "board_temp", "chip_temp_max",
        "chain_frequency", "chain_hw_errors", "fan_rpm", "frequency"}),
    "lbbox": frozenset({
        "hashrate", "hashrate_avg", "shares_accepted", "shares_rejected", "hw_errors",
        "chain_hashrate", "chain_hw_errors", "chip_temp_max", "board_temp", "fan_rpm",
        "frequency", "core_voltage"}),
}
"""The quantities each model's firmware API reports (no power on the S9 and LB-Box, no
voltage on the S9, no per-chip temperature where the firmware gives only a chain's)."""


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
        self.shares_accepted = 0
        self.best_diff = 0.0
        self._valid_hashes = 0.0  # since start, for hashrate_avg
        self._elapsed_s = 0.0

    def count_shares(self, accepted: int, best_diff: float) -> None:
        """Count shares the pool accepted and the best share difficulty among them (the
        firmware's ``sharesAccepted``/``Accepted`` and ``bestDiff``/``Best Share``)."""
        self.shares_accepted += int(accepted)
        self.best_diff = max(self.best_diff, float(best_diff))

    def count_results(self, state: PhysicsState, dt_s: float) -> None:
        """Feed one step's chip-level results to the firmware, as it sees them: nonces at
        the chip's ticket difficulty. Valid ones feed the hashrate estimate (an exponential
        average over ``hashrate_window_s``); wrong ones (the chip's error probability)
        count in the per-chain hardware-error counter and are never submitted."""
        p = self.profile
        hashes_per_ticket = p.ticket_difficulty * 2.0**32
        hs = state.hashrate_hs
        per_chain_hs, per_chain_bad_hs = np.stack((hs, hs * state.error_probability)).reshape(
            2, p.spec.chains, -1).sum(axis=2)
        # one draw for both: valid tickets (row 0) and wrong ones (row 1) per chain
        tickets, wrong = self.rng.poisson(
            np.stack((per_chain_hs - per_chain_bad_hs, per_chain_bad_hs)) * (dt_s / hashes_per_ticket))
        self._valid_hashes += float(tickets.sum()) * hashes_per_ticket
        self._elapsed_s += dt_s
        measured_ghs = tickets * hashes_per_ticket / dt_s / 1e9
        weight = min(1.0, dt_s / p.hashrate_window_s)
        self.hashrate_ghs_est += weight * (measured_ghs - self.hashrate_ghs_est)
        self.hw_errors_total += wrong

    def vr_temp_c(self, state: PhysicsState | None = None) -> float:
        """Voltage-regulator temperature (degC): the model's regulator node, which follows
        its own loss with a first-order lag (``vr_tau_s``; an estimate, see profiles)."""
        return float(self.physics.vr_c)

    def board_temp_c(self) -> np.ndarray:
        """Board (PCB sensor) temperature per chain (degC), a lagged node of the model."""
        return np.asarray(self.physics.board_c, dtype=float)

    def sample(self, t_ns: int, state: PhysicsState, knob_mv: float) -> list[TelemetryEvent]:
        """One telemetry sample at firmware time ``t_ns`` (host latency is added by the
        caller): the quantities of :data:`REPORTED` for the model, each checked against
        the schema."""
        p = self.profile
        model = p.spec.model
        ph = self.physics
        rng = self.rng
        chains = p.spec.chains

        def temp(value: float) -> float:
            return _quantise(value + rng.normal(0.0, p.temp_noise_c), p.temp_resolution_c)

        values: dict[tuple[str, int | None], float] = {}
        hashrate = round(float(self.hashrate_ghs_est.sum()), 2)
        values[("hashrate", None)] = hashrate
        values[("hashrate_avg", None)] = (
            round(self._valid_hashes / self._elapsed_s / 1e9, 2) if self._elapsed_s else hashrate)
        values[("frequency", None)] = float(ph.freq_mhz.mean())
        values[("core_voltage", None)] = knob_mv
        for fan in range(FANS[model]):
            rpm = state.fan_pct / 100.0 * p.fan_max_rpm + rng.normal(0.0, 20.0)
            values[("fan_rpm", fan)] = round(max(0.0, rpm))
        values[("fan_duty", None)] = round(state.fan_pct)
        values[("shares_accepted", None)] = self.shares_accepted
        values[("shares_rejected", None)] = 0
        values[("hw_errors", None)] = int(self.hw_errors_total.sum())
        values[("best_diff", None)] = self.best_diff
        values[("uptime", None)] = int(t_ns // 1_000_000_000)
        values[("overheat_mode", None)] = float(state.tripped)
        if model == "lv06":
            power = _quantise(state.wall_power_w + rng.normal(0.0, p.power_noise_w),
                              p.power_resolution_w)
            values[("power", None)] = power
            values[("input_voltage", None)] = INPUT_VOLTAGE_MV[model]
            values[("input_current", None)] = power / INPUT_VOLTAGE_MV[model] * 1e6
            values[("core_voltage_actual", None)] = _quantise(
                ph.core_mv[0] + rng.normal(0.0, 2.0), 1.0)
            values[("vr_temp", None)] = temp(self.vr_temp_c(state))
            for chip in range(p.spec.chip_count):
                values[("chip_temp", chip)] = temp(float(ph.die_c[chip]))
        else:
            per_chain_die = ph.die_c.reshape(chains, -1)
            per_chain_mhz = ph.freq_mhz.reshape(chains, -1)
            board_c = self.board_temp_c()
            for i in range(chains):
                values[("chip_temp_max", i)] = temp(float(per_chain_die[i].max()))
                values[("board_temp", i)] = temp(float(board_c[i]))
                values[("chain_hashrate", i)] = round(float(self.hashrate_ghs_est[i]), 2)
                values[("chain_hw_errors", i)] = int(self.hw_errors_total[i])
                values[("chain_frequency", i)] = round(float(per_chain_mhz[i].mean()), 2)
                values[("chain_chips", i)] = p.spec.chips_per_chain
        reported = REPORTED[model]
        out: list[TelemetryEvent] = []
        for (quantity, index), value in values.items():
            if quantity not in reported:
                continue
            unit = SCHEMA[quantity].unit
            check(quantity, unit, index)
            out.append(TelemetryEvent(t_ns, self.device_id, quantity, float(value), unit, index))
        return out
