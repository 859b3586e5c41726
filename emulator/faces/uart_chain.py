"""The register model of an emulated BM13xx chain: host frames in, reply frames out.

No I/O and no hashing here (:mod:`emulator.faces.uart` pumps the bytes,
:mod:`emulator.faces.uart_engine` finds the nonces). The chain answers enumeration and
register reads and obeys chain-inactive/set-address, PLL, TicketMask, version-mask and
baud-switch writes as the hardware does (see :mod:`asic_bridge.serial.codec`), plus the
emulation register of :mod:`asic_bridge.serial.ticket`: the chain is scaled down in hash
rate, so it lets the host lower the chip's fixed difficulty-1 floor, announcing itself
(and the floor it suggests) to a read of that register. Its applied ticket difficulty is
``TicketMask difficulty x 2**-floor_shift``; the engine returns nonces meeting exactly
that, and a host that never writes the register gets difficulty >= 1, as from a chip.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from asic_bridge.serial import codec, ticket
from asic_bridge.serial.chips import ChipFamily, family
from asic_bridge.serial.codec import CommandFrame, Job, RegisterReply
from asic_bridge.serial.envelope import physical_range_mhz
from asic_bridge.serial.pll import decode_register


@runtime_checkable
class ChainPhysics(Protocol):
    """What the UART face needs from a physics model of a chip chain.

    Chips are indexed 0..chip_count-1 in chain order. Frequencies in MHz, hashrate in
    hashes per second, probabilities per share in [0, 1].
    """

    @property
    def chip_count(self) -> int:
        """Number of chips on the chain."""
        ...

    def set_frequency_mhz(self, chip: int | None, mhz: float) -> None:
        """A PLL write took effect: one chip, or all when ``chip`` is None."""
        ...

    def frequency_mhz(self, chip: int) -> float:
        """Current clock of a chip in MHz."""
        ...

    def hashrate_hs(self, chip: int) -> float:
        """Current hashrate of a chip in H/s (sets the share rate)."""
        ...

    def hw_error_probability(self, chip: int) -> float:
        """Probability that a share the chip reports is a hardware error (bad nonce)."""
        ...


class ConstantPhysics:
    """Trivial physics: hashrate = MHz x 1e6 x small cores x ``speed``; fixed HW errors.

    ``speed`` scales the hashrate (e.g. to make a test's share rate convenient).
    """

    def __init__(
        self,
        *,
        chip_count: int = 1,
        frequency_mhz: float = 485.0,
        small_cores: int = 894,
        speed: float = 1.0,
        hw_error_probability: float = 0.0,
    ) -> None:
        if chip_count < 1:
            raise ValueError(f"chip_count must be >= 1, got {chip_count}")
        self._freqs = [float(frequency_mhz)] * chip_count
        self.small_cores = small_cores
        self.speed = speed
        self.hw_error = hw_error_probability
        self._lock = threading.Lock()

    @property
    def chip_count(self) -> int:
        return len(self._freqs)

    def set_frequency_mhz(self, chip: int | None, mhz: float) -> None:
        with self._lock:
            for i in range(self.chip_count) if chip is None else (chip,):
                self._freqs[i] = float(mhz)

    def frequency_mhz(self, chip: int) -> float:
        return self._freqs[chip]

    def hashrate_hs(self, chip: int) -> float:
        return self._freqs[chip] * 1e6 * self.small_cores * self.speed

    def hw_error_probability(self, chip: int) -> float:
        return self.hw_error


@dataclass
class UartFaceConfig:
    """Configuration of an emulated chain.

    * ``hashrate_scale``: the chain hashes at the physics' hashrate x this factor (like
      the live Stratum miner's ``hashrate_scale``; temperatures, clocks and error rates
      unchanged). ``None`` picks the scale at which the chain needs ``host_utilization``
      of the face's hashing thread, measured at start.
    * ``suggested_ticket_difficulty``: what the chain suggests to a host that probes the
      emulation register (a power of two below 1, the host may choose another); 2**-16
      costs the host 65,536 SHA-256d per nonce.
    * ``max_search_s``: a ticket difficulty whose nonce would cost the host more than
      this many seconds of hashing is not searched (the chain stays silent, counts it and
      logs why) instead of burning a core for nothing.
    * ``max_tx_frames``: replies waiting for the wire; more are dropped and counted.
    * Baud rates in baud, fault probabilities per byte sent.
    """

    chip: str = "BM1366"
    baud: int = 115_200
    hashrate_scale: float | None = None
    host_utilization: float = 0.5
    suggested_ticket_difficulty: float = 2.0**-16
    max_search_s: float = 30.0
    seed: int | None = None
    flip_bit_probability: float = 0.0
    drop_byte_probability: float = 0.0
    missing_chips: frozenset[int] = field(default_factory=frozenset)
    pace: bool = True
    max_tx_frames: int = 4096

    def __post_init__(self) -> None:
        if self.hashrate_scale is not None and not (
                self.hashrate_scale > 0 and math.isfinite(self.hashrate_scale)):
            raise ValueError(f"hashrate_scale must be positive, got {self.hashrate_scale}")
        if not 0 < self.host_utilization <= 1:
            raise ValueError(f"host_utilization must be in (0, 1], got {self.host_utilization}")
        setting = ticket.ticket_setting(self.suggested_ticket_difficulty, emulated=True)
        if setting.difficulty >= 1:
            raise ValueError("suggested_ticket_difficulty must be below 1 (a real chip's floor)")
        if self.max_tx_frames < 1:
            raise ValueError(f"max_tx_frames must be >= 1, got {self.max_tx_frames}")

    @property
    def suggested_floor_shift(self) -> int:
        return ticket.ticket_setting(self.suggested_ticket_difficulty, emulated=True).floor_shift


@dataclass
class _Chip:
    index: int
    address: int = 0
    addressed: bool = False
    silent: bool = False
    missing: bool = False
    registers: dict[int, int] = field(default_factory=dict)


class EmulatedChain:
    """The chip side of the protocol, without I/O: frames in, reply frames out.

    Thread-safe: the reader thread calls :meth:`handle`, the miner thread reads the job,
    difficulty and rates under the same lock.
    """

    def __init__(self, physics: ChainPhysics, config: UartFaceConfig) -> None:
        self.physics = physics
        self.config = config
        self.family: ChipFamily = family(config.chip)
        if not self.family.supports_jobs:
            raise ValueError(f"{self.family.name}: job frames are not emulated")
        self.chips = [
            _Chip(i, missing=i in config.missing_chips) for i in range(physics.chip_count)
        ]
        self.baud = config.baud
        self.ticket_mask_difficulty = 1.0  # reset value: mask 0
        self.floor_shift = 0  # reset value: a chip's difficulty-1 floor
        self.version_mask = 0
        self.job: Job | None = None
        self.jobs_received = 0
        self.rejected_writes: Counter[str] = Counter()
        self._clock_range = physical_range_mhz(self.family)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)

    # ----------------------------------------------------------------- commands
    def handle(self, item: CommandFrame | Job) -> list[bytes]:
        """Apply one host frame; return the reply frames to send, in chain order."""
        with self.lock:
            if isinstance(item, Job):
                self.job = item
                self.jobs_received += 1
                self.changed.notify_all()
                return []
            kind = item.kind
            if kind == codec.CMD_SET_ADDRESS and len(item.data) >= 1:
                for chip in self._answering():
                    if not chip.addressed:
                        chip.address, chip.addressed = item.data[0], True
                        break
                return []
            if kind == codec.CMD_INACTIVE:
                for chip in self.chips:
                    chip.addressed = False
                return []
            if kind == codec.CMD_READ and len(item.data) >= 2:
                return [
                    codec.encode_register_reply(
                        RegisterReply(self._read(chip, item.data[1]), chip.address, item.data[1])
                    )
                    for chip in self._targets(item)
                ]
            if kind == codec.CMD_WRITE and len(item.data) == 6:
                self._write(item, item.data[1], item.data[2:6])
            return []

    def _answering(self) -> list[_Chip]:
        return [c for c in self.chips if not (c.missing or c.silent)]

    def _targets(self, item: CommandFrame) -> list[_Chip]:
        if item.all_chips:
            return self._answering()
        return [c for c in self._answering() if c.address == item.data[0]]

    @property
    def ticket_difficulty(self) -> float:
        """The difficulty every nonce the chain reports meets: TicketMask x 2**-floor."""
        return self.ticket_mask_difficulty * 2.0**-self.floor_shift

    def _read(self, chip: _Chip, register: int) -> int:
        if register == 0x00:
            return (self.family.chip_id << 16) | chip.address
        if register == ticket.EMULATION_REGISTER:
            return ticket.emulation_read_value(self.config.suggested_floor_shift,
                                               self.floor_shift)
        return chip.registers.get(register, 0)

    def _write(self, item: CommandFrame, register: int, value: bytes) -> None:
        fam = self.family
        targets = [c for c in self.chips if not c.missing] if item.all_chips else [
            c for c in self.chips if not c.missing and c.address == item.data[0]
        ]
        for chip in targets:
            chip.registers[register] = int.from_bytes(value, "big")
        if not targets:
            return
        if register == fam.pll_register:
            try:
                setting = decode_register(fam.name, int.from_bytes(value, "big"))
            except ValueError:
                setting = None
            low, high = self._clock_range
            if setting is None or not low <= setting.frequency_mhz <= high:
                # Assumption (no datasheet): a PLL setting no chip can run (zero divider,
                # a clock outside the chip's physical range) does not take; the chip keeps
                # its clock, so the physics never models a nonsense clock.
                self.rejected_writes["pll"] += 1
                return
            if item.all_chips:
                self.physics.set_frequency_mhz(None, setting.frequency_mhz)
            else:
                for chip in targets:
                    self.physics.set_frequency_mhz(chip.index, setting.frequency_mhz)
        elif register == fam.ticket_mask_register:
            self.ticket_mask_difficulty = float(codec.ticket_difficulty_of(value))
        elif register == ticket.EMULATION_REGISTER:
            shift = ticket.parse_emulation_write(value)
            if shift is not None:
                self.floor_shift = shift
        elif register == fam.version_mask_register:
            self.version_mask = codec.version_mask_of(value)
        elif register == fam.fast_uart_register and value == fam.fast_uart_value:
            self.baud = fam.fast_baud or self.baud
        elif register == fam.misc_control_register and value == bytes.fromhex("00007a31"):
            self.baud = fam.default_baud  # ESP-Miner's "default baud" write
        self.changed.notify_all()

    # ----------------------------------------------------------------- mining
    def share_rates(self, hashrate_scale: float = 1.0) -> list[float]:
        """Nonces per second of each chip at the applied ticket difficulty (0 if silent):
        hashrate x ``hashrate_scale`` / (difficulty x 2**32)."""
        with self.lock:
            per_hash = hashrate_scale / (self.ticket_difficulty * 2.0**32)
            return [
                0.0 if (c.missing or c.silent)
                else max(0.0, self.physics.hashrate_hs(c.index)) * per_hash
                for c in self.chips
            ]
