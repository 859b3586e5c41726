"""The one check every clock written over the chip UART passes (sans-IO).

Two ranges, in MHz:

* the **safe envelope** of the device model (:class:`~asic_bridge.models.DeviceSpec`),
  e.g. 400-575 MHz on the LV06; without a model there is none, so every write needs
  the override;
* the chip's **physical range**: what its PLL can produce (:func:`pll.grid_mhz`), capped
  at the family's ``max_clock_mhz`` (see :mod:`asic_bridge.serial.chips`). The override
  widens the envelope to this range and never further; NaN, infinities, zero and
  negative values are refused always.

The UART has no voltage path (the core supply is a board regulator), so clocks are all
this module checks.
"""

from __future__ import annotations

import math

from asic_bridge.errors import EnvelopeError
from asic_bridge.models import DeviceSpec
from asic_bridge.serial import pll
from asic_bridge.serial.chips import ChipFamily


def physical_range_mhz(fam: ChipFamily) -> tuple[float, float]:
    """(lowest, highest) clock in MHz the driver may ever program on ``fam``."""
    grid = pll.grid_mhz(fam.name, 0.0, math.inf)
    high = max(f for f in grid if f <= fam.max_clock_mhz)
    return grid[0], high


def check_frequency(
    fam: ChipFamily, spec: DeviceSpec | None, mhz: float, *, override: bool = False
) -> float:
    """Return ``mhz`` as a float when it may be written; else raise EnvelopeError with
    the range that applies and how to widen it (if it can be widened)."""
    try:
        value = float(mhz)
    except (TypeError, ValueError):
        raise EnvelopeError(f"frequency must be a number of MHz, got {mhz!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise EnvelopeError(f"frequency must be a positive finite number of MHz, got {mhz!r}")
    low, high = physical_range_mhz(fam)
    if override:
        if not low <= value <= high:
            raise EnvelopeError(
                f"{fam.name}: {value:g} MHz is outside the chip's physical range "
                f"[{low:g}, {high:g}] MHz; the override does not go beyond it")
        return value
    if spec is None:
        raise EnvelopeError(
            f"{fam.name}: no device model given, so no safe envelope is known for "
            f"{value:g} MHz; pass the model (model=lv06) or override=True "
            f"(physical range [{low:g}, {high:g}] MHz)")
    return spec.check("frequency", value, "MHz")
