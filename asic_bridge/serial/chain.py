"""The BM13xx chain driver: bring-up, configuration and jobs over one serial link.

:class:`ChainDriver` sends commands (enumeration, addresses, TicketMask, version mask,
PLL, baud switch, jobs) and owns the pieces that receive: a
:class:`~asic_bridge.serial.reader.ReaderThread`, a bounded
:class:`~asic_bridge.serial.reader.RegisterMailbox` and a
:class:`~asic_bridge.serial.nonces.NonceVerifier`, which turns verified nonce replies into
:class:`ShareEvent`s for the event sink (timestamps from the read that completed the frame,
:attr:`TimestampSource.SERIAL`). A reply that fails any check is counted and dropped.

Ticket difficulty: the driver verifies every nonce against the difficulty it wrote. At
bring-up it probes hashrc's emulation register (:mod:`asic_bridge.serial.ticket`); an
emulated chain (scaled down in hash rate) may then be given a difficulty below 1, and by
default gets the one it suggests; a real chain gets ESP-Miner's 256 by default and never
less than 1.

Clocks: every PLL write passes :func:`asic_bridge.serial.envelope.check_frequency` (the
model's safe envelope, or with ``override`` the chip's physical range; without a model
only the override writes at all).

Link failures: when the port closes the reader tries to reopen it for
``reconnect_timeout_s`` and re-applies the chain's settings (ticket, version mask, PLL,
last job); failing that, :attr:`ChainDriver.error` holds a :class:`DeviceError` that every
later call raises, and the sink gets a ``link_closed`` :class:`StatusEvent`. Events
already given to the sink are never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from asic_bridge.errors import DeviceError, DeviceUnreachable
from asic_bridge.events import ControlEvent, Event, JobEvent, StatusEvent
from asic_bridge.models import DeviceSpec
from asic_bridge.serial import codec, pll, ticket
from asic_bridge.serial.chips import ChipFamily, address_interval, family
from asic_bridge.serial.codec import Job, RegisterReply, ReplyStreamParser
from asic_bridge.serial.envelope import check_frequency
from asic_bridge.serial.nonces import NonceVerifier
from asic_bridge.serial.reader import DEFAULT_MAX_REGISTER_REPLIES, ReaderThread, RegisterMailbox
from asic_bridge.serial.transport import SerialTransport

log = logging.getLogger("asic_bridge.serial.driver")

EventSink = Callable[[Event], None]

REAL_CHIP_TICKET_DIFFICULTY = 256.0
"""ESP-Miner's BM1366 ticket difficulty, the default on a real chain."""


class ChainDriver:
    """Drive one BM13xx chain over a serial URL.

    Frequencies in MHz, baud rates in baud, times in seconds. ``ticket_difficulty``: what
    the chips report and every nonce is verified against (None: 256 on a real chain, the
    chain's suggestion on an emulated one). ``stall_warning_s``: after this long without
    a verified nonce the sink gets a ``no_valid_nonces`` StatusEvent naming the likely
    cause (also logged).
    """

    def __init__(
        self,
        url: str,
        *,
        chip: str = "BM1366",
        baud: int | None = None,
        sink: EventSink | None = None,
        device: str = "",
        spec: DeviceSpec | None = None,
        ticket_difficulty: float | None = None,
        version_mask: int = 0x1FFFE000,
        reconnect_timeout_s: float = 2.0,
        read_timeout_s: float = 0.05,
        stall_warning_s: float = 30.0,
        max_register_replies: int = DEFAULT_MAX_REGISTER_REPLIES,
    ) -> None:
        self.family: ChipFamily = family(chip)
        if not self.family.supports_jobs:
            raise ValueError(f"{self.family.name}: the UART job path is not supported")
        if ticket_difficulty is not None:
            ticket.ticket_mask_value(ticket_difficulty)  # refuses NaN, <= 0
        self.transport = SerialTransport(url, baud=baud or self.family.default_baud)
        self.sink = sink
        self.device = device or url
        self.spec = spec
        self.requested_ticket_difficulty = ticket_difficulty
        self.version_mask = version_mask
        self.reconnect_timeout_s = reconnect_timeout_s
        self.counters: Counter[str] = Counter()
        self.parser = ReplyStreamParser(self.family.reply_len)
        self.registers = RegisterMailbox(self.counters, max_register_replies)
        nominal = (spec.nominal_hashrate_ghs * 1e9
                   if spec is not None and spec.chip.upper() == self.family.name else None)
        self.nonces = NonceVerifier(self.family, device=self.device, counters=self.counters,
                                    stall_s=stall_warning_s, nominal_hashrate_hs=nominal)
        self.reader = ReaderThread(self.transport, self.parser, handle_frame=self._handle,
                                   link_lost=self._reconnect, tick=self._tick,
                                   counters=self.counters, read_timeout_s=read_timeout_s)
        self.chip_count = 0
        self.frequency_mhz: float | None = None
        self.silent_chips: set[int] = set()
        self.emulated = False
        self.suggested_ticket_difficulty: float | None = None
        self._ticket = ticket.ticket_setting(ticket_difficulty or REAL_CHIP_TICKET_DIFFICULTY,
                                             emulated=False)
        self._ticket_written = False
        self._pll: pll.PllSetting | None = None
        self._last_job: Job | None = None
        self._next_job_id = 0
        self._lock = threading.RLock()
        self._read_lock = threading.Lock()
        self.error: DeviceError | None = None

    # ----------------------------------------------------------------- lifecycle
    def open(self) -> ChainDriver:
        """Open the link and start the reader thread (no-op when already open)."""
        if self.reader.alive:
            return self
        self.transport.open()
        self.reader.start()
        return self

    def close(self) -> None:
        """Stop the reader and close the link. Idempotent."""
        self.reader.join()
        self.transport.close()

    def __enter__(self) -> ChainDriver:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- state
    @property
    def interval(self) -> int:
        """Address spacing of the chips (256 / chip count)."""
        return self.nonces.interval

    @property
    def ticket_difficulty(self) -> float:
        """The ticket difficulty the chips apply (every nonce is verified against it)."""
        return self._ticket.difficulty

    @property
    def last_share_ns(self) -> dict[int, int]:
        return self.nonces.last_share_ns

    @property
    def _jobs(self) -> dict[int, Job]:
        return self.nonces.jobs

    # ----------------------------------------------------------------- sending
    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def send(self, frame: bytes) -> None:
        """Send one raw frame (raises DeviceError when the link is down)."""
        self._check()
        self.transport.write(frame)
        self.counters["tx_frames"] += 1

    def read_register(self, register: int, *, timeout_s: float = 0.3,
                      address: int | None = None) -> list[RegisterReply]:
        """Read a register of all chips (or one address); collect the replies until
        ``timeout_s`` passes without a new one."""
        with self._read_lock:
            self.registers.open()
            try:
                if address is None:
                    self.send(codec.read_register(register))
                else:
                    self.send(codec.read_register(register, address=address, all_chips=False))
                replies: list[RegisterReply] = []
                deadline = time.monotonic() + timeout_s
                while (remaining := deadline - time.monotonic()) > 0:
                    reply = self.registers.get(remaining)
                    if reply is None:
                        break
                    if reply.register == register:
                        replies.append(reply)
                        deadline = time.monotonic() + min(timeout_s, 0.1)  # idle gap
            finally:
                self.registers.close()
        self._check()
        return replies

    def enumerate(self, *, timeout_s: float = 0.5) -> int:
        """Count the chips that answer "read register 0" with this family's id."""
        replies = self.read_register(0x00, timeout_s=timeout_s)
        ids = [r.value >> 16 for r in replies]
        count = sum(1 for i in ids if i == self.family.chip_id)
        if count != len(ids):
            self.counters["foreign_chip_ids"] += len(ids) - count
        return count

    def probe_emulation(self, *, timeout_s: float = 0.2) -> bool:
        """Ask the chain whether it is a hashrc emulation (see :mod:`.ticket`); sets
        :attr:`emulated` and :attr:`suggested_ticket_difficulty`."""
        shifts = {ticket.parse_emulation_read(r.value)
                  for r in self.read_register(ticket.EMULATION_REGISTER, timeout_s=timeout_s)}
        shifts.discard(None)
        self.emulated = bool(shifts)
        self.suggested_ticket_difficulty = (2.0 ** -max(s for s in shifts if s is not None)
                                            if self.emulated else None)
        return self.emulated

    def initialise(
        self,
        *,
        expected_chips: int | None = None,
        frequency_mhz: float | None = None,
        fast_baud: bool = False,
        timeout_s: float = 0.5,
        override: bool = False,
    ) -> int:
        """ESP-Miner's bring-up: version mask, enumerate, chain inactive, addresses
        i x (256 / chips), emulation probe, ticket mask, PLL, optional baud switch.
        Returns the chip count; raises DeviceError when no chip answers."""
        if frequency_mhz is not None:  # refuse before anything is written
            frequency_mhz = check_frequency(self.family, self.spec, frequency_mhz,
                                            override=override)
        for _ in range(3):
            self.send(codec.write_register(self.family.version_mask_register or 0xA4,
                                           codec.version_mask_value(self.version_mask)))
        count = self.enumerate(timeout_s=timeout_s)
        if count == 0:
            raise DeviceUnreachable(
                f"no {self.family.name} answered on {self.transport.url}: check the power and "
                f"wiring, the baud ({self.transport.baud}) and chip= ({self.family.name})")
        if expected_chips is not None and count != expected_chips:
            log.warning("%d chip(s) answered on %s, expected %d", count, self.transport.url,
                        expected_chips)
        self.send(codec.chain_inactive())
        self.chip_count = count
        self.nonces.interval = address_interval(count)
        for i in range(count):
            self.send(codec.set_address(i * self.interval))
        self.probe_emulation()
        self.set_ticket_difficulty(self.requested_ticket_difficulty
                                   or self.suggested_ticket_difficulty
                                   or REAL_CHIP_TICKET_DIFFICULTY)
        if frequency_mhz is not None:
            self.set_frequency(frequency_mhz, override=override)
        if fast_baud and self.family.fast_baud:
            self.switch_baud()
        return count

    def switch_baud(self) -> None:
        """Tell the chips to switch to the family's fast baud, then follow on the host."""
        fam = self.family
        if fam.fast_uart_register is None or fam.fast_uart_value is None or not fam.fast_baud:
            raise ValueError(f"{fam.name}: no known fast baud setting")
        frame = codec.write_register(fam.fast_uart_register, fam.fast_uart_value)
        self.send(frame)
        time.sleep(len(frame) * 10 / self.transport.baud + 0.01)  # let it leave the wire
        self.transport.set_baud(fam.fast_baud)

    def _ticket_frames(self, setting: ticket.TicketSetting) -> list[bytes]:
        frames = [codec.write_register(self.family.ticket_mask_register, setting.mask_value)]
        if self.emulated:
            frames.append(codec.write_register(ticket.EMULATION_REGISTER,
                                               ticket.emulation_write_value(setting.floor_shift)))
        return frames

    def set_ticket_difficulty(self, difficulty: float) -> float:
        """Write the ticket difficulty; returns the power of two the chips apply (never
        below 1 on a real chain) and verifies every later nonce against it."""
        setting = ticket.ticket_setting(difficulty, emulated=self.emulated)
        for frame in self._ticket_frames(setting):
            self.send(frame)
        with self._lock:
            self._ticket = setting
            self._ticket_written = True
            self.nonces.set_ticket_difficulty(setting.difficulty)
        return setting.difficulty

    def set_frequency(self, mhz: float, *, override: bool = False) -> ControlEvent:
        """Program every chip's PLL to the grid point closest to ``mhz`` (MHz).

        Checked first (:func:`~asic_bridge.serial.envelope.check_frequency`): refused
        with EnvelopeError outside the model's safe envelope unless ``override``, outside
        the chip's physical range always. The ControlEvent (value = grid MHz, requested =
        mhz) is returned and sent to the sink."""
        mhz = check_frequency(self.family, self.spec, mhz, override=override)
        setting = pll.search(self.family.name, mhz)
        self.send(codec.write_register(self.family.pll_register,
                                       pll.register_payload(self.family.name, setting)[2:]))
        self._pll = setting
        self.frequency_mhz = setting.frequency_mhz
        event = ControlEvent(time.time_ns(), self.device, "frequency", setting.frequency_mhz,
                             "MHz", requested=float(mhz))
        self._emit(event)
        return event

    def send_job(
        self, *, version: int, prev_hash: bytes, merkle_root: bytes, ntime: int, nbits: int,
        label: str | None = None,
    ) -> Job:
        """Send a job to all chips (job id steps as in ESP-Miner); emits a JobEvent."""
        with self._lock:
            self._next_job_id = (self._next_job_id + self.family.job_id_step) % \
                self.family.job_id_modulo
            job = Job(self._next_job_id, version, prev_hash, merkle_root, ntime, nbits)
            self.nonces.add_job(job)
            self._last_job = job
        self.send(codec.encode_job(job))
        self._emit(JobEvent(time.time_ns(), self.device, label or f"{job.job_id:02x}",
                            self.ticket_difficulty))
        return job

    def check_chips(self, *, timeout_s: float = 0.3) -> dict[int, bool]:
        """Ask every chip for register 0; chip index -> answered. Silent chips are
        remembered in :attr:`silent_chips` and counted."""
        answered = {r.chip_address // self.interval
                    for r in self.read_register(0x00, timeout_s=timeout_s)}
        status = {i: i in answered for i in range(self.chip_count)}
        newly = {i for i, ok in status.items() if not ok} - self.silent_chips
        if newly:
            self.counters["chip_silent"] += len(newly)
            log.warning("chip(s) %s on %s stopped answering", sorted(newly), self.transport.url)
        self.silent_chips = {i for i, ok in status.items() if not ok}
        return status

    # ----------------------------------------------------------------- receiving
    def _emit(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(event)

    def _handle(self, frame: bytes, t_ns: int) -> None:
        mono = time.monotonic_ns()
        reply = codec.parse_reply(frame)  # CRC already checked by the parser
        if isinstance(reply, RegisterReply):
            self.counters["register_replies"] += 1
            self.registers.put(reply)
            return
        share = self.nonces.verify(reply, t_ns, mono)
        if share is not None:
            self._emit(share)

    def _tick(self) -> None:
        status = self.nonces.check_stall(time.monotonic(), time.time_ns())
        if status is not None:
            log.warning("%s: %s", self.transport.url, status.detail)
            self._emit(status)

    def _reconnect(self, cause: DeviceError) -> bool:
        log.warning("serial link lost: %s; reconnecting for up to %.1f s", cause,
                    self.reconnect_timeout_s)
        self.counters["link_lost"] += 1
        deadline = time.monotonic() + self.reconnect_timeout_s
        stop = self.reader.stop
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                self.transport.open()
                self._reapply()
                self.counters["reconnects"] += 1
                log.info("serial link %s reopened", self.transport.url)
                self._emit(StatusEvent(time.time_ns(), self.device, "link_reopened",
                                       f"serial link {self.transport.url} reopened after: "
                                       f"{cause}"))
                return True
            except DeviceError:
                self.transport.close()
                stop.wait(0.1)
        self.transport.close()
        self.error = DeviceError(f"serial link {self.transport.url!r} closed and did not come "
                                 f"back within {self.reconnect_timeout_s} s: {cause}")
        log.error("%s", self.error)
        self._emit(StatusEvent(time.time_ns(), self.device, "link_closed", str(self.error)))
        return False

    def _reapply(self) -> None:
        """Rewrite the chain's settings after a reconnect (all were checked when first
        written; the PLL setting is the checked grid point)."""
        frames = []
        if self._ticket_written:
            frames += self._ticket_frames(self._ticket)
        if self.family.version_mask_register is not None:
            frames.append(codec.write_register(
                self.family.version_mask_register, codec.version_mask_value(self.version_mask)))
        if self._pll is not None:
            frames.append(codec.write_register(
                self.family.pll_register, pll.register_payload(self.family.name, self._pll)[2:]))
        if self._last_job is not None:
            frames.append(codec.encode_job(self._last_job))
        for frame in frames:
            self.transport.write(frame)
