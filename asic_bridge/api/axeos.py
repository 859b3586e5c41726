"""AxeOS / ESP-Miner HTTP API (BitAxe, Lucky Miner LV06-like boards), sans-IO.

``GET /api/system/info`` returns one flat JSON object; :func:`parse_info` maps it to
readings. Units as the firmware sends them: power W, voltage (input) mV, current mA, temp
and vrTemp degC, hashRate GH/s, coreVoltage and coreVoltageActual mV, frequency MHz,
fanspeed % (duty), fanrpm rpm, uptimeSeconds s, overheat_mode 0/1. ``bestDiff`` is a string with an SI suffix
("618M") in older firmware and a number in newer. ``PATCH /api/system`` takes a JSON
object of settings; a clock or core-voltage change takes effect only after
``POST /api/system/restart``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from asic_bridge.api.readings import Reading, maybe_float, reading

INFO_PATH = "/api/system/info"
ASIC_PATH = "/api/system/asic"
SYSTEM_PATH = "/api/system"
RESTART_PATH = "/api/system/restart"
DEFAULT_PORT = 80

# info key -> quantity (asic_bridge.telemetry_schema); all already in the quantity's unit.
_INFO_FIELDS: tuple[tuple[str, str], ...] = (
    ("hashRate", "hashrate"),
    ("vrTemp", "vr_temp"),
    ("power", "power"),
    ("voltage", "input_voltage"),
    ("current", "input_current"),
    ("coreVoltage", "core_voltage"),
    ("coreVoltageActual", "core_voltage_actual"),
    ("frequency", "frequency"),
    ("fanspeed", "fan_duty"),
    ("sharesAccepted", "shares_accepted"),
    ("sharesRejected", "shares_rejected"),
    ("bestDiff", "best_diff"),
    ("uptimeSeconds", "uptime"),
    ("overheat_mode", "overheat_mode"),
)


def parse_info(info: dict[str, Any]) -> list[Reading]:
    """Readings of a ``/api/system/info`` object. Absent or unparseable fields are
    skipped; ``fanrpm`` becomes ``fan_rpm`` of fan 0; ``temp`` is ``chip_temp`` of chip
    0 on a one-chip board (``asicCount`` 1, or absent: every ESP-Miner since v2.0 sends
    it) and ``chip_temp_avg`` on a board with several chips (ESP-Miner averages them)."""
    out: list[Reading] = []
    for key, quantity in _INFO_FIELDS:
        value = maybe_float(info, key)
        if value is not None:
            out.append(reading(quantity, value))
    temp = maybe_float(info, "temp")
    if temp is not None:
        chips = maybe_float(info, "asicCount")
        if chips is None or chips <= 1:
            out.append(reading("chip_temp", temp, 0))
        else:
            out.append(reading("chip_temp_avg", temp))
    rpm = maybe_float(info, "fanrpm")
    if rpm is None:
        rpm = maybe_float(info, "fanSpeed")  # LV07 firmware's spelling, in rpm
    if rpm is not None:
        out.append(reading("fan_rpm", rpm, 0))
    return out


@dataclass(frozen=True, slots=True)
class Identity:
    """Who answered: chip model, board (Lucky Miner's ``minerModel``), host, MAC,
    firmware version, small cores per chip, chip count."""

    asic_model: str
    miner_model: str
    hostname: str
    mac: str
    version: str
    small_core_count: int | None
    asic_count: int | None


def identity(info: dict[str, Any]) -> Identity:
    """The identity fields of a ``/api/system/info`` object ("" when absent)."""
    cores = maybe_float(info, "smallCoreCount")
    count = maybe_float(info, "asicCount")
    return Identity(
        asic_model=str(info.get("ASICModel", "")),
        miner_model=str(info.get("minerModel", "")),
        hostname=str(info.get("hostname", "")),
        mac=str(info.get("macAddr", "")),
        version=str(info.get("version", "")),
        small_core_count=None if cores is None else int(cores),
        asic_count=None if count is None else int(count),
    )


def patch_body(
    *,
    frequency_mhz: float | None = None,
    core_voltage_mv: float | None = None,
    fan_pct: float | None = None,
) -> bytes:
    """The JSON body of ``PATCH /api/system``. ESP-Miner stores integers: MHz, mV, %.
    A fan duty switches automatic fan control off."""
    body: dict[str, int] = {}
    if frequency_mhz is not None:
        body["frequency"] = round(frequency_mhz)
    if core_voltage_mv is not None:
        body["coreVoltage"] = round(core_voltage_mv)
    if fan_pct is not None:
        body["autofanspeed"] = 0
        body["fanspeed"] = round(fan_pct)
    if not body:
        raise ValueError("nothing to patch")
    return json.dumps(body).encode("ascii")
