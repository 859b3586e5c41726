"""An emulated BM13xx chip chain on a real pseudo-terminal or a loopback TCP socket.

The face speaks the chip UART exactly as the hardware does (see
:mod:`asic_bridge.serial.codec`): it answers enumeration and register reads, obeys
chain-inactive/set-address, PLL, ticket-mask, version-mask and baud-switch writes, and
returns *real* nonces for the jobs it is sent: each is found with SHA-256d in the chip's
own nonce sub-range (chip address in bits 17..24 and core in bits 25..31 of the nonce
read big-endian, as the real chip sets them), the small core from the rolled version.

Timing comes from the physics hook (:class:`ChainPhysics`): chip i finds shares as a
Poisson process of rate ``hashrate_hs(i) / (ticket difficulty x 2**32)`` per second. The
proof of each share is searched at ``proof_difficulty`` when set (so a share costs the
host about ``proof_difficulty x 2**32`` hashes, e.g. 2**-16 -> 65,536) instead of the
ticket difficulty a real chip would need, which no host can afford. When the host cannot
hash fast enough to keep the requested rate the share is sent late and counted in
``counters["late_shares"]`` with a log warning, never faked.

Bytes leave at the configured baud (10 bits per byte; a pty ignores baud rates, so the
face paces itself): a reply is written when its last byte would have arrived.

Fault injection: ``flip_bit_probability`` and ``drop_byte_probability`` per byte sent,
``missing_chips`` (never answer), :meth:`UartChainFace.silence_chip` (stops answering at
run time), :meth:`UartChainFace.inject` (raw bytes on the wire), and closing the link.
Garbage from the host is counted and skipped; the face never crashes on input.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import queue
import random
import select
import socket
import threading
import time
import tty
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from asic_bridge.serial import codec
from asic_bridge.serial.chips import ChipFamily, family
from asic_bridge.serial.codec import CommandFrame, Job, NonceReply, RegisterReply
from asic_bridge.serial.pll import decode_register

log = logging.getLogger(__name__)

_NONCE_COUNTER_BITS = 17


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
    """Configuration of an emulated chain. Baud rates in baud; difficulties as pool
    difficulties; probabilities per byte sent."""

    chip: str = "BM1366"
    baud: int = 115_200
    proof_difficulty: float | None = 2.0**-16
    seed: int | None = None
    flip_bit_probability: float = 0.0
    drop_byte_probability: float = 0.0
    missing_chips: frozenset[int] = field(default_factory=frozenset)
    pace: bool = True


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
        self.ticket_difficulty = 1.0  # reset value: mask 0
        self.version_mask = 0
        self.job: Job | None = None
        self.jobs_received = 0
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

    def _read(self, chip: _Chip, register: int) -> int:
        if register == 0x00:
            return (self.family.chip_id << 16) | chip.address
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
                return
            if item.all_chips:
                self.physics.set_frequency_mhz(None, setting.frequency_mhz)
            else:
                for chip in targets:
                    self.physics.set_frequency_mhz(chip.index, setting.frequency_mhz)
        elif register == fam.ticket_mask_register:
            self.ticket_difficulty = float(codec.ticket_difficulty_of(value))
        elif register == fam.version_mask_register:
            self.version_mask = codec.version_mask_of(value)
        elif register == fam.fast_uart_register and value == fam.fast_uart_value:
            self.baud = fam.fast_baud or self.baud
        elif register == fam.misc_control_register and value == bytes.fromhex("00007a31"):
            self.baud = fam.default_baud  # ESP-Miner's "default baud" write
        self.changed.notify_all()

    # ----------------------------------------------------------------- mining
    def share_rates(self) -> list[float]:
        """Shares per second of each chip at the current ticket difficulty (0 if silent)."""
        with self.lock:
            scale = 1.0 / (self.ticket_difficulty * 2.0**32)
            return [
                0.0 if (c.missing or c.silent)
                else max(0.0, self.physics.hashrate_hs(c.index)) * scale
                for c in self.chips
            ]


def _deposit(value: int, mask: int) -> int:
    """Scatter the low bits of ``value`` into the set bits of ``mask`` (PDEP)."""
    out, bit = 0, 1
    while mask:
        low = mask & -mask
        if value & bit:
            out |= low
        mask ^= low
        bit <<= 1
    return out


def search_nonce(
    fam: ChipFamily,
    job: Job,
    *,
    address: int,
    core: int,
    start: int,
    difficulty: float,
    version_mask: int,
    version_start: int = 0,
    max_hashes: int = 1 << 26,
) -> tuple[NonceReply | None, int]:
    """Find a nonce in one core's sub-range meeting ``difficulty``; returns (reply, hashes).

    Counters run from ``start`` through the 2**17 nonces of (chip address, core); the
    small cores of a core hash the same nonce with successive rolled versions (one per
    small core, drawn from ``version_mask``). Returns (None, hashes) if ``max_hashes``
    run out.
    """
    target = codec.target_for(difficulty)
    rolls = (version_mask >> 13) & 0xFFFF
    lanes = fam.small_cores_per_core if rolls else 1
    tail_fixed = job.merkle_root[28:] + job.ntime.to_bytes(4, "little") + job.nbits.to_bytes(
        4, "little"
    )
    prefix = (core << 25) | (address << 17)
    sha = hashlib.sha256
    hashes = 0
    block = 256
    version_base = version_start
    while hashes < max_hashes:
        mids = []
        for lane in range(lanes):
            field_ = _deposit(version_base + lane, rolls) if rolls else 0
            version = job.version | (field_ << 13)
            mids.append((lane, field_, sha(version.to_bytes(4, "little") + job.prev_hash
                                            + job.merkle_root[:28])))
        for b0 in range(0, 1 << _NONCE_COUNTER_BITS, block):
            for lane, field_, mid in mids:
                for i in range(b0, b0 + block):
                    raw = (prefix | ((start + i) & 0x1FFFF)).to_bytes(4, "big")
                    h = mid.copy()
                    h.update(tail_fixed + raw)
                    d = sha(h.digest()).digest()
                    if int.from_bytes(d, "little") <= target:
                        id_byte = fam.id_byte_for(job.job_id, lane)
                        return NonceReply(raw, 0, id_byte, field_), hashes + i - b0 + 1
                hashes += block
            if hashes >= max_hashes:
                break
        version_base += lanes
    return None, hashes


class _Link:
    """A byte pipe to the host: blocking-with-timeout read, write, close."""

    def read(self, timeout_s: float) -> bytes | None:  # None: link gone
        raise NotImplementedError

    def write(self, data: bytes) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _PtyLink(_Link):
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._closed = False

    def read(self, timeout_s: float) -> bytes | None:
        if self._closed:
            return None
        try:
            ready, _, _ = select.select([self.master], [], [], timeout_s)
            if not ready:
                return b""
            return os.read(self.master, 4096) or None
        except (OSError, ValueError):
            return None

    def write(self, data: bytes) -> bool:
        if self._closed:
            return False
        try:
            os.write(self.master, data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self.master, self.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)


class _TcpLink(_Link):
    """One client at a time on 127.0.0.1; a new client replaces the old one."""

    def __init__(self, host: str, port: int) -> None:
        self.server = socket.create_server((host, port))
        self.server.settimeout(0.0)
        self.address = self.server.getsockname()
        self.client: socket.socket | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, OSError):
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            old, self.client = self.client, conn
        if old is not None:
            old.close()

    def read(self, timeout_s: float) -> bytes | None:
        if self._closed:
            return None
        watch = [self.server] + ([self.client] if self.client else [])
        try:
            ready, _, _ = select.select(watch, [], [], timeout_s)
        except (OSError, ValueError):
            return None if self._closed else b""
        if self.server in ready:
            self._accept()
        client = self.client
        if client is not None and client in ready:
            try:
                data = client.recv(4096)
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    if self.client is client:
                        self.client = None
                client.close()
            return data
        return b""

    def write(self, data: bytes) -> bool:
        client = self.client
        if client is None:
            return False
        try:
            client.sendall(data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            client, self.client = self.client, None
        if client is not None:
            client.close()
        self.server.close()


class UartChainFace:
    """An emulated chain served on a link. Use :class:`PtyUartFace` or
    :class:`TcpUartFace`; :meth:`start` launches the reader, writer and miner threads,
    :meth:`close` stops them and closes the link (idempotent)."""

    def __init__(self, physics: ChainPhysics, config: UartFaceConfig | None = None) -> None:
        self.config = config or UartFaceConfig()
        self.chain = EmulatedChain(physics, self.config)
        self.parser = codec.CommandStreamParser(self.chain.family)
        self.counters: Counter[str] = Counter()
        self._rng = random.Random(self.config.seed)
        self._tx: queue.Queue[bytes | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._link: _Link | None = None
        self._last_warn = 0.0

    # ----------------------------------------------------------------- lifecycle
    def _open_link(self) -> _Link:
        raise NotImplementedError

    def start(self) -> UartChainFace:
        if self._threads:
            return self
        self._link = self._open_link()
        for name, target in (("rx", self._rx_loop), ("tx", self._tx_loop),
                             ("miner", self._miner_loop)):
            t = threading.Thread(target=target, name=f"uart-face-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def close(self) -> None:
        """Stop the threads and close the link (the host sees the port go away)."""
        self._stop.set()
        self._tx.put(None)
        with self.chain.lock:
            self.chain.changed.notify_all()
        if self._link is not None:
            self._link.close()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads.clear()

    def __enter__(self) -> UartChainFace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- faults
    def silence_chip(self, chip: int, silent: bool = True) -> None:
        """Make a chip stop (or resume) answering: no register replies, no shares."""
        with self.chain.lock:
            self.chain.chips[chip].silent = silent
            self.chain.changed.notify_all()

    def set_faults(
        self, *, flip_bit_probability: float | None = None,
        drop_byte_probability: float | None = None,
    ) -> None:
        """Change the per-byte fault probabilities of the bytes sent."""
        if flip_bit_probability is not None:
            self.config.flip_bit_probability = flip_bit_probability
        if drop_byte_probability is not None:
            self.config.drop_byte_probability = drop_byte_probability

    def inject(self, data: bytes) -> None:
        """Send raw bytes on the wire (e.g. garbage between frames)."""
        self._tx.put(bytes(data))

    # ----------------------------------------------------------------- threads
    def _rx_loop(self) -> None:
        link = self._link
        assert link is not None
        while not self._stop.is_set():
            data = link.read(0.05)
            if data is None:
                break
            if not data:
                continue
            self.counters["rx_bytes"] += len(data)
            if self.config.pace:  # the bytes took this long on the wire
                time.sleep(len(data) * 10 / self.chain.baud)
            try:
                items = self.parser.feed(data)
            except Exception:  # never crash on input
                log.exception("UART face: parser failure")
                self.counters["rx_errors"] += 1
                continue
            for item in items:
                try:
                    for frame in self.chain.handle(item):
                        self._tx.put(frame)
                except Exception:
                    log.exception("UART face: command failure")
                    self.counters["rx_errors"] += 1
            self.counters["rx_dropped_bytes"] = self.parser.dropped["garbage_bytes"]
            self.counters["rx_crc_errors"] = self.parser.dropped["crc"]

    def _corrupt(self, data: bytes) -> bytes:
        cfg = self.config
        if cfg.flip_bit_probability <= 0 and cfg.drop_byte_probability <= 0:
            return data
        out = bytearray()
        for b in data:
            if cfg.drop_byte_probability and self._rng.random() < cfg.drop_byte_probability:
                self.counters["dropped_bytes"] += 1
                continue
            if cfg.flip_bit_probability and self._rng.random() < cfg.flip_bit_probability:
                b ^= 1 << self._rng.randrange(8)
                self.counters["flipped_bits"] += 1
            out.append(b)
        return bytes(out)

    def _tx_loop(self) -> None:
        link = self._link
        assert link is not None
        line_free = time.monotonic()
        while not self._stop.is_set():
            frame = self._tx.get()
            if frame is None:
                break
            if self.config.pace:
                now = time.monotonic()
                done = max(now, line_free) + len(frame) * 10 / self.chain.baud
                line_free = done
                delay = done - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if link.write(self._corrupt(frame)):
                self.counters["tx_frames"] += 1
            else:
                self.counters["tx_unsent"] += 1

    def _miner_loop(self) -> None:
        chain = self.chain
        rng = self._rng
        version_epoch = 0
        while not self._stop.is_set():
            with chain.lock:
                while not self._stop.is_set() and (
                    chain.job is None or sum(chain.share_rates()) <= 0
                ):
                    chain.changed.wait(0.2)
                if self._stop.is_set():
                    return
                rates = chain.share_rates()
                job = chain.job
                assert job is not None
                total = sum(rates)
                gap = rng.expovariate(total)
                pick = rng.choices(range(len(rates)), weights=rates)[0]
                chip = chain.chips[pick]
                address = chip.address
                difficulty = self.config.proof_difficulty or chain.ticket_difficulty
                version_mask = chain.version_mask
                hw_error = rng.random() < chain.physics.hw_error_probability(pick)
            due = time.monotonic() + gap
            if hw_error:
                n = (rng.randrange(chain.family.cores) << 25) | (address << 17) | rng.randrange(
                    1 << 17)
                reply: NonceReply | None = NonceReply(
                    n.to_bytes(4, "big"), 0, chain.family.id_byte_for(job.job_id, 0), 0)
                self.counters["hw_errors"] += 1
            else:
                version_epoch += 1
                reply, hashes = search_nonce(
                    chain.family, job, address=address,
                    core=rng.randrange(chain.family.cores), start=rng.randrange(1 << 17),
                    difficulty=difficulty, version_mask=version_mask,
                    version_start=(version_epoch * chain.family.small_cores_per_core) & 0xFFFF,
                )
                self.counters["hashes"] += hashes
            if reply is None:
                self.counters["search_exhausted"] += 1
                continue
            # wait for the scheduled time; give up the share if the job or chain changed
            with chain.lock:
                while not self._stop.is_set():
                    remaining = due - time.monotonic()
                    if remaining <= 0 or chain.job is not job:
                        break
                    chain.changed.wait(remaining)
                if self._stop.is_set():
                    return
                stale = chain.job is not job or chip.silent
            if stale:
                self.counters["shares_abandoned"] += 1
                continue
            late = time.monotonic() - due
            if late > 0.05:
                self.counters["late_shares"] += 1
                now = time.monotonic()
                if now - self._last_warn > 5.0:
                    self._last_warn = now
                    log.warning(
                        "UART face: the host cannot hash fast enough for the requested share "
                        "rate (%.1f shares/s at proof difficulty %g); shares are %.3f s late",
                        total, difficulty, late,
                    )
            self.counters["shares"] += 1
            self._tx.put(codec.encode_nonce_reply(reply))

    @property
    def share_rate_hz(self) -> float:
        """Current total share rate of the chain in shares per second."""
        return sum(self.chain.share_rates())


class PtyUartFace(UartChainFace):
    """The chain on a pseudo-terminal; open :attr:`path` like a USB-UART device."""

    path: str

    def _open_link(self) -> _Link:
        link = _PtyLink()
        self.path = link.path
        return link


class TcpUartFace(UartChainFace):
    """The chain on ``socket://127.0.0.1:PORT`` (:attr:`url`); loopback only."""

    def __init__(
        self, physics: ChainPhysics, config: UartFaceConfig | None = None, *,
        host: str = "127.0.0.1", port: int = 0,
    ) -> None:
        super().__init__(physics, config)
        self._host, self._port = host, port
        self.url = ""

    def _open_link(self) -> _Link:
        link = _TcpLink(self._host, self._port)
        self.url = f"socket://{link.address[0]}:{link.address[1]}"
        return link


def expected_hashes_per_share(proof_difficulty: float) -> float:
    """Mean SHA-256d evaluations the face spends per share (difficulty x 2**32)."""
    return proof_difficulty * 2.0**32 if proof_difficulty > 0 else math.inf
