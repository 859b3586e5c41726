"""The value every management-API codec yields, and the quantities it may name.

A :class:`Reading` is a TelemetryEvent without its timestamp and device: the codec does
not know when the bytes arrived nor which device sent them; the backend adds both.

Quantities and their units (``index`` is the chip index for per-chip values; for
per-chain values the quantity starts with ``chain_`` and ``index`` holds the 0-based
chain index):

==================  =======  ==========================================================
quantity            unit     meaning
==================  =======  ==========================================================
hashrate            GH/s     short-window hashrate (AxeOS hashRate, cgminer GHS 5s)
hashrate_avg        GH/s     average since start (cgminer GHS av)
chip_temp           degC     ASIC temperature (hottest chip when several)
board_temp          degC     hash-board (PCB) temperature (hottest board)
vr_temp             degC     voltage-regulator temperature
power               W        input power as the firmware reports it
input_voltage       mV       input (supply) voltage
input_current       mA       input current
core_voltage        mV       core voltage set point
core_voltage_actual mV       measured core voltage
frequency           MHz      ASIC clock
fan_rpm             rpm      fan speed; ``index`` holds the fan index
fan                 %        fan duty
shares_accepted     1        accepted shares (counter)
shares_rejected     1        rejected shares (counter)
hw_errors           1        hardware errors (counter)
best_diff           1        best share difficulty
uptime              s        firmware uptime
chain_*             ...      the same quantities per chain (S9: chains 6-8 -> 0-2)
chain_chips         1        chips the chain answered with
==================  =======  ==========================================================
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from asic_bridge.errors import ProtocolError

UNITS: dict[str, str] = {
    "hashrate": "GH/s",
    "hashrate_avg": "GH/s",
    "chip_temp": "degC",
    "board_temp": "degC",
    "vr_temp": "degC",
    "power": "W",
    "input_voltage": "mV",
    "input_current": "mA",
    "core_voltage": "mV",
    "core_voltage_actual": "mV",
    "frequency": "MHz",
    "fan_rpm": "rpm",
    "fan": "%",
    "shares_accepted": "1",
    "shares_rejected": "1",
    "hw_errors": "1",
    "best_diff": "1",
    "uptime": "s",
    "chain_chips": "1",
}


def unit_of(quantity: str) -> str:
    """The unit of a quantity (``chain_x`` has the unit of ``x``)."""
    if quantity in UNITS:
        return UNITS[quantity]
    if quantity.startswith("chain_") and quantity[6:] in UNITS:
        return UNITS[quantity[6:]]
    raise KeyError(f"unknown telemetry quantity {quantity!r}")


class Reading(NamedTuple):
    """One sampled quantity: ``value`` in ``unit``; ``index`` for per-chip (or, for
    ``chain_*`` quantities, per-chain) values."""

    quantity: str
    value: float
    unit: str
    index: int | None = None


def reading(quantity: str, value: float, index: int | None = None) -> Reading:
    """A reading with the quantity's standard unit."""
    return Reading(quantity, float(value), unit_of(quantity), index)


_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def to_float(value: object, *, field: str = "value") -> float:
    """A number from what firmware sends: an int, a float, or a string such as
    ``"13979.12"``, ``" 83.0 "``, ``"618M"`` (SI suffix) or ``"4.29G"``.

    Raises :class:`ProtocolError` for anything else (None, a dict, ``"abc"``, NaN).
    """
    if isinstance(value, bool):
        raise ProtocolError(f"{field}: expected a number, got a boolean {value!r}")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        scale = 1.0
        if text and text[-1] in _SUFFIX:
            scale = _SUFFIX[text[-1]]
            text = text[:-1].strip()
        try:
            result = float(text) * scale
        except ValueError:
            raise ProtocolError(f"{field}: not a number: {value!r}") from None
    else:
        raise ProtocolError(f"{field}: expected a number, got {type(value).__name__}")
    if not math.isfinite(result):
        raise ProtocolError(f"{field}: not a finite number: {value!r}")
    return result


def maybe_float(mapping: dict[str, object], key: str) -> float | None:
    """``to_float(mapping[key])``, or None when the key is absent or the value is
    unparseable (firmware leaves fields out or fills them with junk; one bad field must
    not cost the whole sample)."""
    if key not in mapping:
        return None
    try:
        return to_float(mapping[key], field=key)
    except ProtocolError:
        return None


def json_object(data: bytes, *, what: str) -> dict[str, Any]:
    """Decode an HTTP body that must be one JSON object; ProtocolError otherwise."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        text = data[:80].decode("utf-8", errors="replace")
        raise ProtocolError(f"{what}: malformed JSON ({exc}): {text!r}") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc
