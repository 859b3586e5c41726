"""The value every management-API codec yields.

A :class:`Reading` is a TelemetryEvent without its timestamp and device: the codec does
not know when the bytes arrived nor which device sent them; the backend adds both.
Quantities, units and what ``index`` counts come from the one telemetry schema,
:mod:`asic_bridge.telemetry_schema` (documented in ``docs/telemetry.md``);
:func:`reading` refuses anything that does not fit it.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from asic_bridge.errors import ProtocolError
from asic_bridge.telemetry_schema import check, unit_of

__all__ = ["Reading", "json_object", "maybe_float", "reading", "to_float", "unit_of"]


class Reading(NamedTuple):
    """One sampled quantity: ``value`` in ``unit``; ``index`` says which chip, chain or
    fan (the kind is fixed per quantity by the schema), None for a device value."""

    quantity: str
    value: float
    unit: str
    index: int | None = None


def reading(quantity: str, value: float, index: int | None = None) -> Reading:
    """A reading in the quantity's schema unit; :class:`ProtocolError` if the quantity
    is not in the schema or ``index`` does not match its index kind."""
    unit = unit_of(quantity)
    check(quantity, unit, index)
    return Reading(quantity, float(value), unit, index)


_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def to_float(value: object, *, field: str = "value") -> float:
    """A number from what firmware sends: an int, a float, or a string such as
    ``"13979.12"``, ``" 83.0 "``, ``"618M"`` (SI suffix) or ``"4.29G"``.

    Raises :class:`ProtocolError` for anything else (None, a dict, ``"abc"``, NaN).
    """
    if isinstance(value, bool):
        raise ProtocolError(f"{field}: expected a number, got a boolean {value!r}")
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:  # an integer beyond a double's range
            raise ProtocolError(f"{field}: number out of range: {str(value)[:40]}") from None
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        scale = 1.0
        if text and text[-1] in _SUFFIX:
            scale = _SUFFIX[text[-1]]
            text = text[:-1].strip()
        try:
            result = float(text) * scale
        except (ValueError, OverflowError):
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        text = data[:80].decode("utf-8", errors="replace")
        cause = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise ProtocolError(f"{what}: not a JSON reply ({cause}): {text!r}") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc
