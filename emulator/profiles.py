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
  ``1 / (1 + exp(-(f - f_max) / (width * f_max)))``;
* sensors with their own thermal mass: the board (PCB) sensor of each chain and the
  voltage regulator follow their heat sources through first-order lags (time constants
  are estimates); the fan follows the firmware's published fan curve.

Public figures the thermal parameters were identified from (stock settings; ambient not
stated in any of them, 25 C assumed). Identification used only these figures and the
physics model's own steady state, never an experiment result:

* [S9-1] bmminer ``stats`` of a stock Antminer S9 at 656 MHz, MultiMiner issue #290
  (https://github.com/nwoolls/MultiMiner/issues/290): GHS 5s 14,046; fans 6,000 and
  5,640 rpm; board temperatures (temp6-8) 74, 72, 71 C; chip temperatures (temp2_6-8)
  89, 87, 86 C.
* [FW-BMM] bmminer ``driver-btm-c5.h`` (bitmaintech/bmminer-mix), S9 branch: fan PWM
  from 0 % at 40 C to 100 % at 90 C of chip temperature, MAX_FAN_SPEED 6,000 rpm,
  MAX_TEMP 125 C.
* [LV06-1] ESP-Miner issue #66 (https://github.com/bitaxeorg/ESP-Miner/issues/66): a
  BM1366 board of the reference design the LV06 copies (pyasic issue #165: "Lucky Miner
  LV06 ... a Bitaxe Ultra 202 design with BM1366") at 485 MHz / 1,200 mV: 11.66 W,
  chip 46 C; a second one: 12.21 W, chip 37 C.
* [LV06-2] pyasic issue #278 (https://github.com/UpstreamData/pyasic/issues/278):
  Lucky Miner LV08 (9 x BM1366, 485 MHz / 1,200 mV) ``/api/system/info``: temp 55 C,
  vrTemp 52 C, 99.8 W (11.1 W per chip).
* [FW-ESP] ESP-Miner 2.1 ``power_management_task.c`` ``automatic_fan_speed``: 35 % at or
  below 45 C, linear to 100 % at THROTTLE_TEMP 75 C.
* [LBBOX-1] No LB-Box reply was found. Its Box-series sibling (Goldshell Mini Doge; the
  Box miners are "practically the same inside", goldshellminer/firmware issue #25) in
  pyasic pull request #375 (https://github.com/UpstreamData/pyasic/pull/375): chip
  77.25 C, fans 2 x 2,160 rpm. Power: Goldshell's rating of the LB-Box, 160 W.

:data:`STOCK_FIGURES` restates these per model with the tolerance a test holds the
emulator's stock steady state to.
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
    # sensors with their own thermal mass (first-order lags)
    board_tau_s: float  # PCB sensor following its chain's hottest heatsink
    vr_k_per_w: float  # regulator temperature rise per W of its own loss
    vr_tau_s: float
    # fan: the firmware's linear curve on the hottest chip, then the fan's response
    fan_curve_low_c: float  # at or below: fan_min_pct
    fan_curve_high_c: float  # at or above: 100 %
    fan_min_pct: float
    fan_max_rpm: float
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
    # 11.66 W and 12.21 W measured at the 5 V input of BM1366 boards at 485 MHz / 1200 mV
    # [LV06-1] (Lucky's rating: 13 W); ~0.6 W ESP32 + fan, ~88 % buck efficiency
    # (TPS40305 class): ~9.9 W into the chip at ~46 C, of which ~0.9 W leakage (1.4 W
    # at 60 C, estimate), so ~9.1 W dynamic (identified from [LV06-1]).
    dynamic_power_ref_w=9.1,
    leakage_power_ref_w=1.4,
    leakage_doubling_k=20.0,
    t_ref_c=60.0,
    board_power_w=0.6,
    regulator_efficiency=0.88,
    # a BGA die on a small finned heatsink with a 40 mm fan (estimates). Identified from
    # [LV06-1]: 46 C at ~9.9 W and ~37 % fan (the curve below at 46 C), ambient 25 C
    # assumed: die-to-air 2.1 K/W = 0.6 (die-sink, estimate) + 1.5 (sink-air at 37 %).
    r_die_sink_k_per_w=0.6,
    c_die_j_per_k=2.5,  # die + package + spreader: tau_die = 1.5 s
    c_sink_j_per_k=30.0,  # ~33 g of aluminium: tau_sink = 30 J/K x 1.5 K/W = 45 s
    g_sink_air_natural_w_per_k=0.25,
    g_sink_air_forced_w_per_k=0.93,  # 0.25 + 0.93 x 0.37^0.8 = 0.67 W/K (identified)
    air_flow_w_per_k_full_fan=8.0,
    ambient_c=25.0,  # assumed (the cited replies do not state their room temperature)
    # board and regulator lags: a 2-layer 50 x 100 mm PCB and a buck stage (estimates)
    board_tau_s=60.0,
    # regulator ~4 K per W of its own loss above a board half-way between ambient and
    # heatsink (estimate): ~1.3 W loss -> ~38 C, a few K under the chip as [LV06-2] reads.
    # Checked over 5 serials: chip 45.6 C, fan 37 %, 12.0 W at the input.
    vr_k_per_w=4.0,
    vr_tau_s=30.0,
    # ESP-Miner 2.1 power_management_task.c automatic_fan_speed: 35 % at or below 45 C,
    # linear to 100 % at THROTTLE_TEMP 75 C, updated every 2 s [FW-ESP]
    fan_curve_low_c=45.0,
    fan_curve_high_c=75.0,
    fan_min_pct=35.0,
    fan_max_rpm=6000.0,  # 40 mm fan class (estimate)
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
    # 1,323 W at the wall (Bitmain's rating), ~93 % PSU, ~35 W controller/fans: ~6.3 W
    # per chip at the mean stock die temperature (~74 C; the hottest chips read 86-89 C
    # [S9-1]), of which ~0.8 W leakage (estimate)
    dynamic_power_ref_w=5.5,
    leakage_power_ref_w=0.8,
    leakage_doubling_k=20.0,
    t_ref_c=74.0,  # mean stock die temperature: the rated power holds there
    board_power_w=35.0,
    regulator_efficiency=0.93,
    # per-board heatsinks, two 120 mm fans. Identified from [S9-1] (stock, 656 MHz):
    # chips 86-89 C, boards 71-74 C, fans 94-100 % (5,640-6,000 of 6,000 rpm), ambient
    # 25 C assumed. At ~6.5 W in the hottest chips the board sensor (hottest heatsink of
    # the chain) sits ~15 K under the hottest die -> R_die_sink ~2.2 K/W; the outlet air
    # is ~17 K above ambient (25 W/K of air per chain, estimate) -> sink-air ~5 K/W at
    # ~97 % fan. Checked over 5 serials: hottest die 88 C, board 72 C, fan 97 %, 1,309 W.
    r_die_sink_k_per_w=2.2,
    c_die_j_per_k=1.0,  # tau_die = 2.2 s (estimate)
    c_sink_j_per_k=12.0,  # ~1 kg of aluminium per board / 63 chips: tau_sink ~60 s
    g_sink_air_natural_w_per_k=0.02,
    g_sink_air_forced_w_per_k=0.205,
    air_flow_w_per_k_full_fan=25.0,
    ambient_c=25.0,
    board_tau_s=60.0,  # PCB around the TMP451 sensor (estimate)
    vr_k_per_w=0.0,  # bmminer reports no regulator temperature (not modelled)
    vr_tau_s=60.0,
    # bmminer driver-btm-c5.h (S9, PWM_T 1): PWM 0 % at MIN_FAN_TEMP 40 C rising
    # linearly to 100 % at MAX_FAN_TEMP 90 C on the chip temperature; MAX_FAN_SPEED 6000
    # rpm [FW-BMM]
    fan_curve_low_c=40.0,
    fan_curve_high_c=90.0,
    fan_min_pct=0.0,
    fan_max_rpm=6000.0,
    fan_tau_s=2.0,
    fmax_ref_mhz=720.0,  # BM1387 at ~420 mV: stock 650 MHz with margin (estimate)
    v_threshold_mv=280.0,
    alpha=1.3,
    fmax_temp_coeff_per_k=0.001,
    error_width_frac=0.01,
    pll_settle_s=0.002,
    overheat_c=125.0,  # bmminer MAX_TEMP on the chip temperature [FW-BMM]
    overheat_recover_c=90.0,  # restart once cooled (a simplification; estimate)
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
    # 160 W at the wall, ~90 % PSU, ~12 W controller/fans: ~33 W per assumed chip at
    # the mean die temperature (~70 C; the hottest reads ~77 C as in [LBBOX-1]), of
    # which ~4 W leakage (estimate)
    dynamic_power_ref_w=29.0,
    leakage_power_ref_w=4.0,
    leakage_doubling_k=20.0,
    t_ref_c=70.0,
    board_power_w=12.0,
    regulator_efficiency=0.90,
    # Identified from [LBBOX-1] (a Box-series sibling, same enclosure): hottest chip
    # ~77 C at ~77 % fan (the curve below), ambient 25 C assumed: die-air ~1.2 K/W at
    # the last chip = 0.3 (die-sink, estimate) + 0.9 (sink-air at 77 % fan). Checked
    # over 5 serials: hottest die 76.5 C, fan 76 %, 157 W at the wall.
    r_die_sink_k_per_w=0.3,
    c_die_j_per_k=5.0,
    c_sink_j_per_k=80.0,
    g_sink_air_natural_w_per_k=0.3,
    g_sink_air_forced_w_per_k=1.0,
    air_flow_w_per_k_full_fan=12.0,
    ambient_c=25.0,
    board_tau_s=60.0,  # estimate
    vr_k_per_w=0.0,  # Goldshell reports no regulator temperature (not modelled)
    vr_tau_s=60.0,
    # Goldshell publishes no fan law: linear 30 % at 50 C to 100 % at 90 C (estimate);
    # 2,800 rpm at 100 % puts [LBBOX-1]'s 2,160 rpm at 77 % (identified)
    fan_curve_low_c=50.0,
    fan_curve_high_c=90.0,
    fan_min_pct=30.0,
    fan_max_rpm=2800.0,
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

@dataclass(frozen=True, slots=True)
class CitedRange:
    """A public figure of a device at stock settings: ``low..high`` in ``unit`` (the
    spread the source shows), held to within ``tolerance`` (same unit) by a test."""

    quantity: str  # "chip_temp" (hottest chip per chain), "board_temp", "fan_rpm", "power"
    low: float
    high: float
    unit: str
    tolerance: float
    source: str


STOCK_FIGURES: dict[str, tuple[CitedRange, ...]] = {
    "s9": (
        CitedRange("chip_temp", 86.0, 89.0, "degC", 3.0, "S9-1"),
        CitedRange("board_temp", 71.0, 74.0, "degC", 3.0, "S9-1"),
        CitedRange("fan_rpm", 5640.0, 6000.0, "rpm", 300.0, "S9-1"),
        CitedRange("power", 1323.0, 1323.0, "W", 66.0, "Bitmain rating, +-5 %"),
    ),
    "lv06": (
        CitedRange("chip_temp", 37.0, 46.0, "degC", 4.0, "LV06-1"),
        CitedRange("power", 11.66, 12.21, "W", 1.0, "LV06-1"),
    ),
    "lbbox": (
        CitedRange("chip_temp", 77.25, 77.25, "degC", 6.0, "LBBOX-1 (sibling)"),
        CitedRange("fan_rpm", 2160.0, 2160.0, "rpm", 400.0, "LBBOX-1 (sibling)"),
        CitedRange("power", 160.0, 160.0, "W", 16.0, "Goldshell rating, +-10 %"),
    ),
}

PROFILES: dict[str, PhysicsProfile] = {
    p.spec.model: p for p in (LV06_PHYSICS, S9_PHYSICS, LBBOX_PHYSICS)
}


def profile_for(model: str) -> PhysicsProfile:
    """The physics profile of ``lv06``, ``s9`` or ``lbbox``."""
    try:
        return PROFILES[model.lower()]
    except KeyError:
        raise ValueError(f"no emulator profile for {model!r}; known: {sorted(PROFILES)}") from None
