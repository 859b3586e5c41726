"""PLL programming of BM13xx chips: search the divider grid, encode the register.

Output clock = 25 MHz x fb / (ref x p1 x p2); the VCO runs at 25 MHz x fb / ref.
Constraints per chip (from ESP-Miner's ``pll_get_parameters`` callers and Bitmain's
tables, held in :mod:`asic_bridge.serial.chips`): ref in {1, 2}, p1 and p2 in 1..7 with
p1 > p2, and a chip-specific fb range: BM1366/BM1368 144..235, BM1370 160..239,
BM1397 60..200, BM1387 32..128.

Reconciling protocols.md: its example "450 MHz -> fb 72, ref 2, p1 2, p2 1" comes from
ESP-Miner's PLL unit test, which calls the search with fb 60..200, i.e. the BM1397's
range. With the BM1366's own range (144..235) fb 72 is not allowed and 450 MHz becomes
fb 144, ref 2, p1 4, p2 1 (same output, VCO 1800 MHz). Both are tested.

Preferences, as in ESP-Miner: the closest output to the target; among equally close,
the lowest VCO; then the smallest p1 x p2; remaining ties go to the first candidate in
ESP-Miner's iteration order (ref 2 before 1, p1 and p2 from 7 down). Unlike ESP-Miner,
fb is not only the rounded value per divider but both neighbours clamped into range, so
the result is the true closest grid point; targets outside the reachable range raise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from asic_bridge.serial.chips import ChipFamily, family

REF_CLOCK_MHZ = 25.0
_TIE_MHZ = 1e-9


@dataclass(frozen=True)
class PllSetting:
    """One PLL configuration. ``frequency_mhz`` = 25 x fb / (ref x p1 x p2) MHz;
    ``vdo`` is the register's top byte (VCO range select, or a chip constant)."""

    fb: int
    ref: int
    p1: int
    p2: int
    vdo: int
    frequency_mhz: float

    @property
    def vco_mhz(self) -> float:
        """VCO frequency in MHz: 25 x fb / ref."""
        return REF_CLOCK_MHZ * self.fb / self.ref


def _frequency(fb: int, ref: int, p1: int, p2: int) -> float:
    return REF_CLOCK_MHZ * fb / (ref * p1 * p2)


def _vdo(fam: ChipFamily, fb: int, ref: int) -> int:
    if fam.pll.vdo_rule:
        return 0x50 if REF_CLOCK_MHZ * fb / ref >= 2400 else 0x40
    return fam.pll.vdo_fixed


def _dividers(fam: ChipFamily) -> list[tuple[int, int, int]]:
    """(ref, p1, p2) in ESP-Miner's iteration order, p1 > p2."""
    lim = fam.pll
    return [
        (ref, p1, p2)
        for ref in lim.ref_values
        for p1 in range(lim.p_max, 0, -1)
        for p2 in range(lim.p_max, 0, -1)
        if p1 > p2
    ]


def _setting(fam: ChipFamily, fb: int, ref: int, p1: int, p2: int) -> PllSetting:
    return PllSetting(fb, ref, p1, p2, _vdo(fam, fb, ref), _frequency(fb, ref, p1, p2))


@lru_cache(maxsize=32)
def _grid(chip: str) -> tuple[float, ...]:
    fam = family(chip)
    freqs = {
        _frequency(fb, ref, p1, p2)
        for ref, p1, p2 in _dividers(fam)
        for fb in range(fam.pll.fb_min, fam.pll.fb_max + 1)
    }
    return tuple(sorted(freqs))


def search(chip: str, target_mhz: float) -> PllSetting:
    """The PLL setting of ``chip`` closest to ``target_mhz`` (MHz), with ESP-Miner's
    tie-breaks (lowest VCO, then smallest p1 x p2).

    Raises ``ValueError`` for an unknown chip, a non-finite or non-positive target, or a
    target outside the chip's reachable range (see :func:`grid_mhz`).
    """
    fam = family(chip)
    target = float(target_mhz)
    if not math.isfinite(target) or target <= 0:
        raise ValueError(f"target frequency must be a positive finite MHz, got {target_mhz}")
    grid = _grid(fam.name)
    if not grid[0] - _TIE_MHZ <= target <= grid[-1] + _TIE_MHZ:
        raise ValueError(
            f"{fam.name}: {target:g} MHz is outside the PLL's reach "
            f"[{grid[0]:g}, {grid[-1]:g}] MHz"
        )
    lim = fam.pll
    best: tuple[float, float, int] | None = None
    best_args: tuple[int, int, int, int] = (0, 0, 0, 0)
    for ref, p1, p2 in _dividers(fam):
        divider = ref * p1 * p2
        exact = target * divider / REF_CLOCK_MHZ
        for fb in {math.floor(exact), math.ceil(exact)}:
            fb = min(max(fb, lim.fb_min), lim.fb_max)
            freq = _frequency(fb, ref, p1, p2)
            key = (abs(freq - target), REF_CLOCK_MHZ * fb / ref, p1 * p2)
            if best is None or _better(key, best):
                best, best_args = key, (fb, ref, p1, p2)
    return _setting(fam, *best_args)


def _better(a: tuple[float, float, int], b: tuple[float, float, int]) -> bool:
    """Strictly preferable: closer, else (equally close) lower VCO, else smaller p1*p2."""
    if a[0] < b[0] - _TIE_MHZ:
        return True
    if a[0] > b[0] + _TIE_MHZ:
        return False
    if a[1] < b[1] - _TIE_MHZ:
        return True
    if a[1] > b[1] + _TIE_MHZ:
        return False
    return a[2] < b[2]


def grid_mhz(chip: str, low_mhz: float, high_mhz: float) -> list[float]:
    """Sorted distinct frequencies (MHz) the chip's PLL can produce in [low, high]."""
    if low_mhz > high_mhz:
        raise ValueError(f"low_mhz {low_mhz} > high_mhz {high_mhz}")
    return [f for f in _grid(family(chip).name) if low_mhz - _TIE_MHZ <= f <= high_mhz + _TIE_MHZ]


def register_value(chip: str, setting: PllSetting) -> int:
    """The 32-bit PLL register value, e.g. BM1387 650 MHz -> 0x00680221,
    BM1366 -> ``vdo fb ref post`` with post = (p1-1)<<4 | (p2-1)."""
    fam = family(chip)
    _check(fam, setting)
    post = setting.p1 - 1 << 4 | setting.p2 - 1 if fam.pll.post_minus_one else setting.p1 << 4 | setting.p2
    return (setting.vdo << 24) | (setting.fb << 16) | (setting.ref << 8) | post


def register_payload(chip: str, setting: PllSetting, *, chip_address: int = 0) -> bytes:
    """Data of the write-register command that applies ``setting``: chip address,
    register, four value bytes; e.g. BM1366 ``00 08 vdo fb ref post``, BM1387
    ``00 0C 00 fb ref post``. Send it as a write-all (0x51) or write-one (0x41)."""
    fam = family(chip)
    if not 0 <= chip_address <= 0xFF:
        raise ValueError(f"chip address must be a byte, got {chip_address}")
    value = register_value(fam.name, setting)
    return bytes((chip_address, fam.pll_register)) + value.to_bytes(4, "big")


def decode_register(chip: str, value: int) -> PllSetting:
    """Inverse of :func:`register_value` (what a chip or the emulator does on a write).

    Raises ``ValueError`` when a divider is zero."""
    fam = family(chip)
    vdo, fb, ref, post = value.to_bytes(4, "big")
    hi, lo = post >> 4, post & 0x0F
    p1, p2 = (hi + 1, lo + 1) if fam.pll.post_minus_one else (hi, lo)
    if fb == 0 or ref == 0 or p1 == 0 or p2 == 0:
        raise ValueError(f"{fam.name}: PLL register {value:#010x} has a zero divider")
    return PllSetting(fb, ref, p1, p2, vdo, _frequency(fb, ref, p1, p2))


def _check(fam: ChipFamily, s: PllSetting) -> None:
    lim = fam.pll
    if not (lim.fb_min <= s.fb <= lim.fb_max and s.ref in lim.ref_values
            and 1 <= s.p2 < s.p1 <= lim.p_max and 0 <= s.vdo <= 0xFF):
        raise ValueError(f"{fam.name}: PLL setting out of range: {s}")
