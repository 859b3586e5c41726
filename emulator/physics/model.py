"""One device's physics, stepped in simulated time.

State per chip: die and heatsink temperature (degC), clock (MHz), core voltage (mV);
per chain: the board (PCB) temperature sensor; per device: the voltage-regulator
temperature and the fan. Each step computes power from clock, voltage and temperature,
advances the thermal network and the sensors' own lags, runs the firmware's fan curve,
and yields each chip's raw hashrate (H/s) and its probability of a wrong result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.physics.power import (
    dynamic_power_w,
    leakage_at_voltage_w,
    leakage_temperature_factor,
)
from emulator.physics.thermal import (
    FanController,
    first_order_lag,
    local_air_c,
    sink_air_conductance_w_per_k,
    step_thermal,
)
from emulator.physics.timing import (
    error_probability,
    fmax_at_temperature_ref_mhz,
    fmax_temperature_factor,
)
from emulator.physics.variation import ChipVariation
from emulator.profiles import PhysicsProfile


@dataclass(slots=True)
class PhysicsState:
    """What one step of the model produced (arrays per chip unless noted)."""

    hashrate_hs: np.ndarray  # hashes per second the cores attempt
    error_probability: np.ndarray  # probability that a result is wrong
    chip_power_w: np.ndarray
    wall_power_w: float  # whole device at the wall
    fan_pct: float
    tripped: bool = False  # overheat protection has cut the chips


class DevicePhysics:
    """The physics of one device, given its profile and its chips' variation.

    All chips are one vectorised model (arrays of ``chip_count``; the S9's 189 chips cost
    about as much as the LV06's one). What depends only on the knobs (dynamic power, the
    voltage parts of leakage and timing limit, hashrate) is computed when a knob changes,
    so knobs must be set through the setters, never by writing the arrays.
    """

    def __init__(self, profile: PhysicsProfile, variation: ChipVariation) -> None:
        spec = profile.spec
        self.profile = profile
        self.n_chips = spec.chip_count
        self.chip_v_ref_mv = spec.default_core_mv / profile.chip_voltage_divisor
        f_ref_hz = spec.default_frequency_mhz * 1e6
        c_eff_ref = profile.dynamic_power_ref_w / ((self.chip_v_ref_mv * 1e-3) ** 2 * f_ref_hz)
        self.c_eff_f = c_eff_ref * variation.c_eff
        self.leak_ref_w = profile.leakage_power_ref_w * variation.leakage
        self.fmax_ref_mhz = profile.fmax_ref_mhz * variation.fmax
        self.r_die_sink = profile.r_die_sink_k_per_w * variation.thermal_resistance
        self.g_natural = profile.g_sink_air_natural_w_per_k / variation.thermal_resistance
        self.g_forced = profile.g_sink_air_forced_w_per_k / variation.thermal_resistance
        self.cores_per_chip = spec.small_cores_per_chip
        self.freq_mhz = np.full(self.n_chips, spec.default_frequency_mhz)
        self.core_mv = np.full(self.n_chips, self.chip_v_ref_mv)
        self.die_c = np.full(self.n_chips, profile.ambient_c)
        self.sink_c = np.full(self.n_chips, profile.ambient_c)
        self.board_c = np.full(spec.chains, profile.ambient_c)  # PCB sensor per chain
        self.vr_c = float(profile.ambient_c)  # voltage regulator (one per device)
        self.fan = FanController(
            low_c=profile.fan_curve_low_c,
            high_c=profile.fan_curve_high_c,
            min_pct=profile.fan_min_pct,
            tau_s=profile.fan_tau_s,
        )
        self.tripped = False
        self._tau_die_s = float(np.min(self.r_die_sink)) * profile.c_die_j_per_k
        self._refresh_knob_terms()

    def _refresh_knob_terms(self) -> None:
        """Recompute what depends only on clock and voltage (after a knob change)."""
        p = self.profile
        self._fmax_v_mhz = fmax_at_temperature_ref_mhz(
            self.fmax_ref_mhz, self.core_mv, self.chip_v_ref_mv, p.v_threshold_mv, p.alpha)
        self._dynamic_w = dynamic_power_w(self.c_eff_f, self.core_mv, self.freq_mhz)
        self._leak_v_w = leakage_at_voltage_w(self.leak_ref_w, self.core_mv, self.chip_v_ref_mv)
        self._hashrate_hs = self.freq_mhz * 1e6 * self.cores_per_chip
        self._zeros = np.zeros(self.n_chips)

    # --- knobs -------------------------------------------------------------------------
    def set_frequency_mhz(self, mhz: float, chip: int | None = None) -> None:
        """Set the clock of one chip or all chips (MHz, already on the PLL grid)."""
        if chip is None:
            self.freq_mhz[:] = mhz
        else:
            self.freq_mhz[chip] = mhz
        self._refresh_knob_terms()

    def set_core_voltage_mv(self, knob_mv: float) -> None:
        """Set the supply in the knob's mV (per chip for one-chip boards, chain for the S9)."""
        self.core_mv[:] = knob_mv / self.profile.chip_voltage_divisor
        self._refresh_knob_terms()

    def set_fan_pct(self, pct: float | None) -> None:
        """Fix the fan at ``pct`` percent, or ``None`` to return to automatic control."""
        self.fan.manual_pct = pct

    # --- dynamics ----------------------------------------------------------------------
    def step(self, dt_s: float) -> PhysicsState:
        """Advance the model by ``dt_s`` seconds."""
        p = self.profile
        fmax = self._fmax_v_mhz * fmax_temperature_factor(self.die_c, p.t_ref_c, p.fmax_temp_coeff_per_k)
        p_err = error_probability(self.freq_mhz, fmax, p.error_width_frac)
        hottest = float(self.die_c.max())
        if hottest > p.overheat_c:
            self.tripped = True
        elif self.tripped and hottest < p.overheat_recover_c:
            self.tripped = False
        if self.tripped:  # overheat protection switches the chips' supply off ...
            chip_power = self._zeros
        else:
            chip_power = self._dynamic_w + self._leak_v_w * leakage_temperature_factor(
                self.die_c, p.t_ref_c, p.leakage_doubling_k)
        # ... and runs the fan at full speed until they have cooled
        fan_pct = self.fan.step(p.fan_curve_high_c if self.tripped else hottest, dt_s)
        fan_fraction = fan_pct / 100.0
        air_c = local_air_c(
            p.ambient_c, chip_power, p.spec.chips_per_chain,
            p.air_flow_w_per_k_full_fan * max(fan_fraction, 0.05),
        )
        g_sink_air = sink_air_conductance_w_per_k(self.g_natural, self.g_forced, fan_fraction)
        self.die_c, self.sink_c = step_thermal(
            self.die_c, self.sink_c, chip_power, air_c, self.r_die_sink, p.c_die_j_per_k,
            g_sink_air, p.c_sink_j_per_k, dt_s, self._tau_die_s,
        )
        total_w = float(chip_power.sum())
        self._step_sensors(total_w, dt_s)
        wall = total_w / p.regulator_efficiency + p.board_power_w
        return PhysicsState(
            hashrate_hs=self._zeros if self.tripped else self._hashrate_hs,
            error_probability=p_err,
            chip_power_w=chip_power,
            wall_power_w=wall,
            fan_pct=fan_pct,
            tripped=self.tripped,
        )

    def _step_sensors(self, total_chip_w: float, dt_s: float) -> None:
        """The board and regulator sensors follow their heat sources with their own lag."""
        p = self.profile
        board_target = self.sink_c.reshape(p.spec.chains, -1).max(axis=1)
        self.board_c = first_order_lag(self.board_c, board_target, p.board_tau_s, dt_s)
        self.vr_c = float(first_order_lag(self.vr_c, self.vr_target_c(total_chip_w), p.vr_tau_s, dt_s))

    def vr_target_c(self, chip_power_w: np.ndarray | float) -> float:
        """Where the regulator's temperature settles at this load (degC; ``chip_power_w``
        per chip or in total): its own loss through ``vr_k_per_w`` above a board half-way
        between ambient and the heatsinks."""
        p = self.profile
        loss_w = float(np.sum(chip_power_w)) * (1.0 / p.regulator_efficiency - 1.0)
        return p.ambient_c + p.vr_k_per_w * loss_w + 0.5 * float(self.sink_c.mean() - p.ambient_c)

    def warm_up(self, seconds: float = 900.0, dt_s: float = 1.0) -> None:
        """Run at the current settings without producing events (a device that has been
        mining for a while before the experiment starts; default 15 min)."""
        for _ in range(int(seconds / dt_s)):
            self.step(dt_s)
