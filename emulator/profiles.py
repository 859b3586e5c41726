"""Physics parameters of each emulated device, with where each number comes from.

Identity, defaults and safe envelopes are the bridge's :class:`DeviceSpec`
(:mod:`asic_bridge.models`); this module adds what only a physics model needs. Values
marked *estimate* are physical estimates (orders of magnitude from component classes and
textbook device physics), not measurements of these devices; they were set from those
sources once, before any experiment was run, and are not to be tuned to results.

Per-chip model (see :mod:`emulator.physics`):

* dynamic power ``P_dyn = C_eff * V^2 * f``; ``C_eff`` chosen so that the default clock
  and voltage give the device's rated power less its leakage, regulator and board share;
* leakage ``P_leak = P_leak_ref * (V/V_ref)^3 * 2^((T_die - T_ref)/T_double)``: leakage
  doubles every ``T_double`` K (sub-threshold leakage, ~15-25 K per doubling in modern
  CMOS), a positive feedback through the die temperature;
* thermal network: die -> heatsink (``R_die_sink``, ``C_die``), heatsink -> local air
  (``R_sink_air`` falling with fan airflow, ``C_sink``), air heated by upstream chips;
* timing limit (alpha-power law, Sakurai & Newton 1990): ``f_max ∝ (V - V_th)^alpha / V``,
  falling ``temp_coeff`` per K above ``T_ref``; error probability per result
  ``1 / (1 + exp(-(f - f_max) / (width * f_max)))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from asic_bridge.models import LBBOX, LV06, S9, DeviceSpec


@dataclass(frozen=True, slots=True)
class PhysicsProfile:
    """Physics of one device model. Units are in the field names."""

    spec: DeviceSpec
    pll_chip: str  # chip name for the PLL grid (asic_bridge.serial.pll)
    # electrical, per chip
    chip_voltage_divisor: float  # knob mV / divisor = per-chip core mV (S9: 21 domains)
    dynamic_power_ref_w: float  # per chip at default f and V
    leakage_power_ref_w: float  # per chip at v_ref and t_ref_c
    leakage_doubling_k: float
    t_ref_c: float
    board_power_w: float  # controller, fans at rest, regulators' fixed loss (whole device)
    regulator_efficiency: float
    # thermal, per chip
    r_die_sink_k_per_w: float
    c_die_j_per_k: float
    c_sink_j_per_k: float
    g_sink_air_natural_w_per_k: float  # heatsink to air, fan stopped
    g_sink_air_forced_w_per_k: float  # extra conductance at 100 % fan
    air_flow_w_per_k_full_fan: float  # air heat capacity flow per chain at 100 % fan
    ambient_c: float
    # fan controller
    fan_target_c: float
    fan_min_pct: float
    fan_max_rpm: float
    fan_kp_pct_per_k: float
    fan_ki_pct_per_k_s: float
    fan_tau_s: float
    # timing errors
    fmax_ref_mhz: float  # at default voltage and t_ref_c, median chip
    v_threshold_mv: float  # per chip
    alpha: float
    fmax_temp_coeff_per_k: float
    error_width_frac: float
    pll_settle_s: float
    overheat_c: float  # firmware cuts the chips above this die temperature
    overheat_recover_c: float  # ... and restarts them once cooled below this
    # telemetry as the firmware reports it
    telemetry_period_s: float
    temp_resolution_c: float
    temp_noise_c: float
    power_resolution_w: float
    power_noise_w: float
    ticket_difficulty: float  # chip-level nonce difficulty behind the hashrate estimate
    hashrate_window_s: float
    # host-side view of shares
    report_poll_s: float  # firmware polls the chips' nonce FIFO at this period (0 = none)
    net_base_s: float
    net_jitter_median_s: float
    net_jitter_sigma: float  # lognormal sigma of the jitter
    net_spike_probability: float  # e.g. WiFi power-save: held until the next beacon
    net_spike_max_s: float
    job_interval_s: float  # the pool's job period in the emulated session
    # process variation (per device serial and per chip)
    var_leakage_sigma: float  # lognormal sigma of the leakage multiplier
    var_fmax_sigma_frac: float
    var_rth_sigma_frac: float
    var_ceff_sigma_frac: float


LV06_PHYSICS = PhysicsProfile(
    spec=LV06,
    pll_chip="BM1366",
    chip_voltage_divisor=1.0,
    # ~13 W rated at the wall; ~0.6 W ESP32 + fan, ~88 % buck efficiency (TPS40305 class):
    # ~10.9 W into the chip, of which ~1.4 W leakage at 60 C (estimate).
    dynamic_power_ref_w=9.5,
    leakage_power_ref_w=1.4,
    leakage_doubling_k=20.0,
    t_ref_c=60.0,
    board_power_w=0.6,
    regulator_efficiency=0.88,
    # a BGA die on a small finned heatsink with a 40 mm fan (estimates)
    r_die_sink_k_per_w=0.6,
    c_die_j_per_k=2.5,  # die + package + spreader: tau_die = 1.5 s
    c_sink_j_per_k=30.0,  # ~33 g of aluminium: tau_sink ~ 20-60 s with fan
    g_sink_air_natural_w_per_k=0.25,
    g_sink_air_forced_w_per_k=0.9,
    air_flow_w_per_k_full_fan=8.0,
    ambient_c=25.0,
    # ESP-Miner's automatic fan control holds the chip near its 60 C target
    fan_target_c=60.0,
    fan_min_pct=20.0,
    fan_max_rpm=6000.0,
    fan_kp_pct_per_k=4.0,
    fan_ki_pct_per_k_s=0.5,
    fan_tau_s=1.0,
    # BM1366 at 1200 mV: community overclocks reach ~575-600 MHz before errors rise
    fmax_ref_mhz=600.0,
    v_threshold_mv=450.0,
    alpha=1.4,
    fmax_temp_coeff_per_k=0.001,
    error_width_frac=0.01,
    pll_settle_s=0.002,
    overheat_c=75.0,  # ESP-Miner's THROTTLE_TEMP: overheat mode above 75 C
    overheat_recover_c=55.0,  # ESP-Miner needs a restart; modelled as automatic (simplification)
    # ESP-Miner's power-management task polls every 2,000 ms; EMC2101 diode 0.125 C,
    # INA260 power LSB 10 mW
    telemetry_period_s=2.0,
    temp_resolution_c=0.125,
    temp_noise_c=0.25,
    power_resolution_w=0.01,
    power_noise_w=0.05,
    ticket_difficulty=256.0,  # ESP-Miner's BM1366 ticket difficulty
    # ESP-Miner estimates hashrate from its last 100 ticket nonces; at 433.6 GH/s and
    # ticket 256 that is 0.39 nonces/s, so ~256 s, modelled as an exponential average
    hashrate_window_s=256.0,
    # ESP-Miner forwards each nonce as it is read (no batching); WiFi to the host:
    # a few ms with a lognormal tail, and power-save holds frames until the next
    # 102.4 ms beacon now and then (estimates)
    report_poll_s=0.0,
    net_base_s=0.002,
    net_jitter_median_s=0.003,
    net_jitter_sigma=0.8,
    net_spike_probability=0.05,
    net_spike_max_s=0.1024,
    job_interval_s=30.0,
    var_leakage_sigma=0.2,
    var_fmax_sigma_frac=0.03,
    var_rth_sigma_frac=0.08,
    var_ceff_sigma_frac=0.02,
)

S9_PHYSICS = PhysicsProfile(
    spec=S9,
    pll_chip="BM1387",
    chip_voltage_divisor=21.0,  # 21 series voltage domains per chain: 8,800 mV -> 419 mV
    # 1,323 W at the wall, ~93 % PSU, ~35 W controller/fans: ~6.3 W per chip,
    # of which ~0.8 W leakage at 75 C (estimate)
    dynamic_power_ref_w=5.5,
    leakage_power_ref_w=0.8,
    leakage_doubling_k=20.0,
    t_ref_c=75.0,
    board_power_w=35.0,
    regulator_efficiency=0.93,
    # per-chip heatsinks on an aluminium-cored board, two 120 mm fans (estimates)
    r_die_sink_k_per_w=1.5,
    c_die_j_per_k=1.0,
    c_sink_j_per_k=12.0,
    g_sink_air_natural_w_per_k=0.05,
    g_sink_air_forced_w_per_k=0.35,
    air_flow_w_per_k_full_fan=20.0,  # per chain: air warms ~20 K across a 430 W board
    ambient_c=25.0,
    fan_target_c=75.0,
    fan_min_pct=30.0,
    fan_max_rpm=6000.0,
    fan_kp_pct_per_k=3.0,
    fan_ki_pct_per_k_s=0.3,
    fan_tau_s=2.0,
    fmax_ref_mhz=720.0,  # BM1387 at ~420 mV: stock 650 MHz with margin (estimate)
    v_threshold_mv=280.0,
    alpha=1.3,
    fmax_temp_coeff_per_k=0.001,
    error_width_frac=0.01,
    pll_settle_s=0.002,
    overheat_c=95.0,  # bmminer stops a chain with its chips this hot (estimate)
    overheat_recover_c=75.0,
    telemetry_period_s=5.0,  # bmminer's "GHS 5s" and temperature refresh
    temp_resolution_c=1.0,  # integer degrees in the API
    temp_noise_c=0.5,
    power_resolution_w=1.0,
    power_noise_w=5.0,
    ticket_difficulty=1.0,
    hashrate_window_s=5.0,
    report_poll_s=0.005,  # bmminer polls the FPGA's nonce FIFO (estimate)
    net_base_s=0.0003,
    net_jitter_median_s=0.0001,
    net_jitter_sigma=0.5,
    net_spike_probability=0.0,
    net_spike_max_s=0.0,
    job_interval_s=30.0,
    var_leakage_sigma=0.2,
    var_fmax_sigma_frac=0.03,
    var_rth_sigma_frac=0.08,
    var_ceff_sigma_frac=0.02,
)

LBBOX_PHYSICS = PhysicsProfile(
    spec=LBBOX,
    pll_chip="generic",  # undisclosed chip: a 25 MHz-reference grid in 1 MHz steps (assumed)
    chip_voltage_divisor=1.0,
    # 160 W at the wall, ~90 % PSU, ~12 W controller/fans: ~33 W per assumed chip
    dynamic_power_ref_w=29.0,
    leakage_power_ref_w=4.0,
    leakage_doubling_k=20.0,
    t_ref_c=70.0,
    board_power_w=12.0,
    regulator_efficiency=0.90,
    r_die_sink_k_per_w=0.3,
    c_die_j_per_k=5.0,
    c_sink_j_per_k=80.0,
    g_sink_air_natural_w_per_k=0.3,
    g_sink_air_forced_w_per_k=1.6,
    air_flow_w_per_k_full_fan=12.0,
    ambient_c=25.0,
    fan_target_c=70.0,
    fan_min_pct=30.0,
    fan_max_rpm=5000.0,
    fan_kp_pct_per_k=3.0,
    fan_ki_pct_per_k_s=0.3,
    fan_tau_s=1.5,
    fmax_ref_mhz=580.0,
    v_threshold_mv=350.0,
    alpha=1.3,
    fmax_temp_coeff_per_k=0.001,
    error_width_frac=0.01,
    pll_settle_s=0.002,
    overheat_c=90.0,  # estimate
    overheat_recover_c=70.0,
    telemetry_period_s=5.0,
    temp_resolution_c=0.1,
    temp_noise_c=0.3,
    power_resolution_w=1.0,
    power_noise_w=1.0,
    ticket_difficulty=1.0,
    hashrate_window_s=5.0,
    report_poll_s=0.005,
    net_base_s=0.0003,
    net_jitter_median_s=0.0001,
    net_jitter_sigma=0.5,
    net_spike_probability=0.0,
    net_spike_max_s=0.0,
    job_interval_s=30.0,
    var_leakage_sigma=0.2,
    var_fmax_sigma_frac=0.03,
    var_rth_sigma_frac=0.08,
    var_ceff_sigma_frac=0.02,
)

PROFILES: dict[str, PhysicsProfile] = {
    p.spec.model: p for p in (LV06_PHYSICS, S9_PHYSICS, LBBOX_PHYSICS)
}


def profile_for(model: str) -> PhysicsProfile:
    """The physics profile of ``lv06``, ``s9`` or ``lbbox``."""
    try:
        return PROFILES[model.lower()]
    except KeyError:
        raise ValueError(f"no emulator profile for {model!r}; known: {sorted(PROFILES)}") from None
