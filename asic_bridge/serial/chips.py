"""The BM13xx chip-family table: what the host must know about each chip on the UART.

Facts come from ESP-Miner (BitAxe/AxeOS firmware: ``components/asic/bm13xx.c``,
``pll.c``), Bitmain's published bmminer frequency tables (BM1387) and
``reference/protocols.md``. Where a fact is not known for a chip the field is ``None``
and the codec refuses that operation for the chip rather than guessing.

Nonce layout (BM1366/BM1368/BM1370, from ESP-Miner's result parsing): with the four nonce
bytes read big-endian as ``n``, the chip address is ``(n >> 17) & 0xFF`` (divide by the
address interval to get the chip index) and the core is ``(n >> 25) & 0x7F``. The reply's
``id`` byte carries the job id and the small core: BM1366 ``job = id & 0xF8`` and
``small_core = id & 0x07``; BM1368/BM1370 ``job = (id & 0xF0) >> 1`` and
``small_core = id & 0x0F``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PllLimits:
    """Search space of a chip's PLL: output = 25 MHz x fb / (ref x p1 x p2).

    ``post_minus_one``: the post-divider byte holds ``(p1-1)<<4 | (p2-1)`` (BM1366 and
    later) rather than ``p1<<4 | p2`` (BM1397, BM1387). ``vdo_rule``: the top byte is
    0x50 when the VCO (25 x fb / ref MHz) reaches 2400 MHz, else 0x40; otherwise the top
    byte is the constant ``vdo_fixed``.
    """

    fb_min: int
    fb_max: int
    ref_values: tuple[int, ...] = (2, 1)  # iteration order = tie-break order (ESP-Miner's)
    p_max: int = 7
    post_minus_one: bool = True
    vdo_rule: bool = True
    vdo_fixed: int = 0x40


@dataclass(frozen=True, slots=True)
class ChipFamily:
    """One BM13xx chip as seen over its UART.

    Baud rates in baud (bits per second on the wire); ``reply_len`` in bytes including
    the ``AA 55`` preamble and CRC byte.
    """

    name: str
    chip_id: int  # the 16-bit id a chip answers to "read register 0", e.g. 0x1366
    cores: int  # big cores per chip (7-bit core field in the nonce)
    small_cores: int  # ESP-Miner's small_core_count (hash engines per chip)
    small_cores_per_core: int
    reply_len: int
    pll_register: int
    pll: PllLimits
    ticket_mask_register: int = 0x14
    version_mask_register: int | None = 0xA4
    misc_control_register: int = 0x18
    fast_uart_register: int | None = None
    fast_uart_value: bytes | None = None  # 4 value bytes written to fast_uart_register
    default_baud: int = 115_200
    fast_baud: int | None = None
    job_frame_len: int | None = None  # whole frame, preamble to CRC16, bytes
    job_id_step: int = 8
    job_id_modulo: int = 128
    # nonce/reply field layout; None where the chip's layout is not supported here
    id_job_mask: int | None = 0xF8
    id_job_shift: int = 0
    id_small_core_mask: int = 0x07
    nonce_chip_shift: int = 17
    nonce_core_shift: int = 25
    nonce_core_mask: int = 0x7F
    # Highest clock (MHz) the driver ever programs, override or not. No BM13xx datasheet
    # is public; the PLL alone reaches ~2.9 GHz (fb 235, ref 1, p1 2, p2 1), which no
    # core can run. 1000 MHz is about 1.7x ESP-Miner's highest offered BM1366 clock
    # (575 MHz) and 1.5x the S9's stock 650 MHz: a chosen ceiling against mistakes
    # (a typo, a unit slip), not a measured limit.
    max_clock_mhz: float = 1000.0

    @property
    def chip_id_bytes(self) -> bytes:
        """The two id bytes a chip sends after the preamble, e.g. ``13 66``."""
        return self.chip_id.to_bytes(2, "big")

    @property
    def supports_jobs(self) -> bool:
        """Whether the job frame and nonce reply of this chip are implemented here."""
        return self.job_frame_len is not None and self.id_job_mask is not None

    def job_id_of(self, id_byte: int) -> int:
        """Job id from a nonce reply's id byte."""
        if self.id_job_mask is None:
            raise ValueError(f"{self.name}: nonce reply layout not supported")
        return (id_byte & self.id_job_mask) >> self.id_job_shift

    def small_core_of(self, id_byte: int) -> int:
        """Small core (within the big core) from a nonce reply's id byte."""
        return id_byte & self.id_small_core_mask

    def id_byte_for(self, job_id: int, small_core: int) -> int:
        """Inverse of :meth:`job_id_of`/:meth:`small_core_of` (what a chip sends)."""
        if self.id_job_mask is None:
            raise ValueError(f"{self.name}: nonce reply layout not supported")
        return ((job_id << self.id_job_shift) & self.id_job_mask) | (
            small_core & self.id_small_core_mask
        )


def address_interval(chip_count: int) -> int:
    """Address spacing ESP-Miner uses: chip i gets address ``i * (256 // chip_count)``."""
    if not 1 <= chip_count <= 256:
        raise ValueError(f"chip_count must be in 1..256, got {chip_count}")
    return 256 // chip_count


_BM1366_PLL = PllLimits(fb_min=144, fb_max=235)

BM1366 = ChipFamily(
    name="BM1366",
    chip_id=0x1366,
    cores=112,
    small_cores=894,
    small_cores_per_core=8,
    reply_len=11,
    pll_register=0x08,
    pll=_BM1366_PLL,
    fast_uart_register=0x28,
    fast_uart_value=bytes.fromhex("11300200"),
    fast_baud=1_000_000,
    job_frame_len=88,
)

BM1368 = ChipFamily(
    name="BM1368",
    chip_id=0x1368,
    cores=80,
    small_cores=1276,
    small_cores_per_core=16,
    reply_len=11,
    pll_register=0x08,
    pll=PllLimits(fb_min=144, fb_max=235),
    fast_uart_register=0x28,
    fast_uart_value=bytes.fromhex("11300200"),
    fast_baud=1_000_000,
    job_frame_len=88,
    job_id_step=24,
    id_job_mask=0xF0,
    id_job_shift=1,  # job = (id & 0xF0) >> 1
    id_small_core_mask=0x0F,
)

BM1370 = ChipFamily(
    name="BM1370",
    chip_id=0x1370,
    cores=80,
    small_cores=2040,
    small_cores_per_core=16,
    reply_len=11,
    pll_register=0x08,
    pll=PllLimits(fb_min=160, fb_max=239),
    fast_uart_register=0x28,
    fast_uart_value=bytes.fromhex("11300200"),
    fast_baud=1_000_000,
    job_frame_len=88,
    job_id_step=24,
    id_job_mask=0xF0,
    id_job_shift=1,
    id_small_core_mask=0x0F,
)

# BM1397 (BitAxe Max): midstate jobs and a 9-byte reply; table facts only, no job path.
BM1397 = ChipFamily(
    name="BM1397",
    chip_id=0x1397,
    cores=168,
    small_cores=672,
    small_cores_per_core=4,
    reply_len=9,
    pll_register=0x08,
    pll=PllLimits(fb_min=60, fb_max=200, post_minus_one=False, vdo_rule=False, vdo_fixed=0x40),
    version_mask_register=None,
    fast_uart_register=0x18,
    fast_baud=3_125_000,
    job_frame_len=None,
    id_job_mask=None,
)

# BM1387 (Antminer S9): PLL register 0x0C ``00 fb ref (p1<<4|p2)`` (Bitmain's tables, e.g.
# 650 MHz = 0x680221); the fb range 32..128 is the span those tables use. On a stock S9
# the FPGA drives the UART: table facts only, no job path.
BM1387 = ChipFamily(
    name="BM1387",
    chip_id=0x1387,
    cores=114,
    small_cores=114,
    small_cores_per_core=1,
    reply_len=7,
    pll_register=0x0C,
    pll=PllLimits(fb_min=32, fb_max=128, post_minus_one=False, vdo_rule=False, vdo_fixed=0x00),
    version_mask_register=None,
    misc_control_register=0x1C,
    job_frame_len=None,
    id_job_mask=None,
)

FAMILIES: dict[str, ChipFamily] = {
    f.name: f for f in (BM1366, BM1368, BM1370, BM1397, BM1387)
}


def family(chip: str) -> ChipFamily:
    """Look a chip up by name, case-insensitive (``"bm1366"`` or ``"BM1366"``)."""
    try:
        return FAMILIES[chip.upper()]
    except KeyError:
        raise ValueError(f"unknown chip {chip!r}; known: {sorted(FAMILIES)}") from None


def family_by_id(chip_id: int) -> ChipFamily | None:
    """The family whose id a chip answered with, or None."""
    for fam in FAMILIES.values():
        if fam.chip_id == chip_id:
            return fam
    return None
