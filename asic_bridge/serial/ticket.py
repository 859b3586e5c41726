"""Ticket difficulty: what a chip reports, and how the host tells it (sans-IO).

A BM13xx chip reports a nonce when the hash of its header has 32 leading zero bits (the
chip's fixed check, pool difficulty 1) and, on top, the bits of its TicketMask register
(0x14) are zero too: mask ``2**k - 1`` (bytes bit-reversed) means difficulty ``2**k``
(:func:`ticket_mask_value`). A real chip cannot report below difficulty 1.

**Emulated chains** (:mod:`emulator.faces.uart`) are scaled down in hash rate, like the
live Stratum miner: a CPU cannot afford the ``2**32`` hashes of a difficulty-1 nonce
several times a second. They announce themselves in one register no BM13xx chip has,
:data:`EMULATION_REGISTER`, whose reads answer :data:`EMULATION_MAGIC` in the top 16
bits, the chain's suggested floor shift ``s`` in bits 8..15 and its current floor shift
``j`` in bits 0..7; a write of ``MAGIC << 16 | j`` lowers the fixed check by ``j`` bits.
The applied ticket difficulty is then ``mask difficulty x 2**-j``. The driver probes the
register once at bring-up and writes it only to a chain that answered the magic; a real
chip is never sent it. On a real chain a ticket difficulty below 1 is applied as 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EMULATION_REGISTER = 0xFC
"""hashrc's emulated chains only: floor-shift register (see the module docstring)."""

EMULATION_MAGIC = 0x4852  # "HR"
MAX_FLOOR_SHIFT = 32
"""Shift 32: every hash meets the floor (difficulty 2**-32, one hash per nonce)."""

_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ticket_mask_value(difficulty: float) -> bytes:
    """The 4 value bytes of the TicketMask register for a difficulty: (largest power of
    two <= ceil(difficulty)) - 1, big-endian, each byte bit-reversed. Difficulties below
    1 give mask 0 (the chip's floor, difficulty 1)."""
    if not math.isfinite(difficulty) or difficulty <= 0:
        raise ValueError(f"ticket difficulty must be positive and finite, got {difficulty}")
    diff_int = min(max(1, math.ceil(difficulty)), 2**32)
    mask = (1 << (diff_int.bit_length() - 1)) - 1
    return bytes(_REVERSED[b] for b in (mask & 0xFFFFFFFF).to_bytes(4, "big"))


def ticket_difficulty_of(value: bytes) -> int:
    """Inverse of :func:`ticket_mask_value`: the power-of-two difficulty a mask encodes
    (mask + 1; only masks of the form ``2**k - 1`` are meaningful)."""
    if len(value) != 4:
        raise ValueError(f"a register value is 4 bytes, got {len(value)}")
    mask = int.from_bytes(bytes(_REVERSED[b] for b in value), "big")
    return mask + 1


@dataclass(frozen=True, slots=True)
class TicketSetting:
    """A ticket difficulty as written: TicketMask value bytes and the emulated floor
    shift (0 on real chips). ``difficulty`` = mask difficulty x 2**-shift."""

    mask_value: bytes
    floor_shift: int

    @property
    def difficulty(self) -> float:
        return ticket_difficulty_of(self.mask_value) * 2.0**-self.floor_shift


def ticket_setting(difficulty: float, *, emulated: bool) -> TicketSetting:
    """The setting a chain applies for a requested ``difficulty``: the largest power of
    two at or below it (at or below ``ceil`` for >= 1, as ESP-Miner), never below 1 on a
    real chain, never below ``2**-32`` on an emulated one."""
    mask = ticket_mask_value(difficulty)
    if difficulty >= 1 or not emulated:
        return TicketSetting(mask, 0)
    shift = min(MAX_FLOOR_SHIFT, -math.floor(math.log2(difficulty)))
    return TicketSetting(mask, shift)


def emulation_write_value(floor_shift: int) -> bytes:
    """Value bytes of a write to :data:`EMULATION_REGISTER`."""
    if not 0 <= floor_shift <= MAX_FLOOR_SHIFT:
        raise ValueError(f"floor shift must be in 0..{MAX_FLOOR_SHIFT}, got {floor_shift}")
    return ((EMULATION_MAGIC << 16) | floor_shift).to_bytes(4, "big")


def emulation_read_value(suggested_shift: int, floor_shift: int) -> int:
    """What an emulated chain answers to a read of :data:`EMULATION_REGISTER`."""
    return (EMULATION_MAGIC << 16) | ((suggested_shift & 0xFF) << 8) | (floor_shift & 0xFF)


def parse_emulation_write(value: bytes) -> int | None:
    """The floor shift of a write to :data:`EMULATION_REGISTER`, None when the value
    does not carry the magic or the shift is out of range (the chain ignores it)."""
    word = int.from_bytes(value, "big")
    if word >> 16 != EMULATION_MAGIC or word & 0xFF00:
        return None
    shift = word & 0xFF
    return shift if shift <= MAX_FLOOR_SHIFT else None


def parse_emulation_read(word: int) -> int | None:
    """The suggested floor shift of an emulated chain's answer, or None when ``word``
    is not one (a real chip, whatever it answers)."""
    if word >> 16 != EMULATION_MAGIC:
        return None
    suggested = (word >> 8) & 0xFF
    return suggested if suggested <= MAX_FLOOR_SHIFT else None
