"""The BM13xx chain driver: the codec pumped over a :class:`SerialTransport`.

One reader thread reads bytes, stamps them with ``time.time_ns()`` when the read that
completed a frame returned (:attr:`TimestampSource.SERIAL`), cuts replies out with
:class:`ReplyStreamParser`, hands register replies to whoever asked and turns verified
nonce replies into :class:`ShareEvent`s for the event sink. A reply that fails any check
(CRC, unknown job, hash short of the verify difficulty) is counted and dropped.

Link failures: when the port closes the reader tries to reopen it for
``reconnect_timeout_s`` and re-applies the chain's settings (ticket mask, version mask,
PLL, last job); failing that, :attr:`ChainDriver.error` holds a :class:`DeviceError`
that every later call raises. Events already given to the sink are never lost.

Device backend: ``serial://PATH?chip=bm1366&baud=115200`` (see :func:`open_url`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

from asic_bridge.device import Clock, Device, DeviceInfo, WallClock
from asic_bridge.errors import DeviceError, UnknownKnobError
from asic_bridge.events import (
    ControlEvent,
    Event,
    JobEvent,
    ShareEvent,
    ShareOutcome,
    TelemetryEvent,
    TimestampSource,
)
from asic_bridge.models import DeviceSpec, spec_for
from asic_bridge.serial import codec, pll
from asic_bridge.serial.chips import ChipFamily, address_interval, family
from asic_bridge.serial.codec import Job, NonceReply, RegisterReply, ReplyStreamParser
from asic_bridge.serial.transport import SerialTransport

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]


class ChainDriver:
    """Drive one BM13xx chain over a serial URL.

    Frequencies in MHz, baud rates in baud, timeouts in seconds. ``ticket_difficulty`` is
    written to the chips' ticket mask; ``verify_difficulty`` (default: the same) is what
    each returned hash must reach — set it lower only for an emulator whose proof
    difficulty is lower (see ``emulator.faces.uart``).
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
        ticket_difficulty: float = 256.0,
        verify_difficulty: float | None = None,
        version_mask: int = 0x1FFFE000,
        reconnect_timeout_s: float = 2.0,
        read_timeout_s: float = 0.05,
    ) -> None:
        self.family: ChipFamily = family(chip)
        if not self.family.supports_jobs:
            raise ValueError(f"{self.family.name}: the UART job path is not supported")
        self.transport = SerialTransport(url, baud=baud or self.family.default_baud)
        self.sink = sink
        self.device = device or url
        self.spec = spec
        self.ticket_difficulty = float(ticket_difficulty)
        self.verify_difficulty = float(verify_difficulty or ticket_difficulty)
        self.version_mask = version_mask
        self.reconnect_timeout_s = reconnect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.parser = ReplyStreamParser(self.family.reply_len)
        self.counters: Counter[str] = Counter()
        self.chip_count = 0
        self.interval = 256
        self.frequency_mhz: float | None = None
        self.silent_chips: set[int] = set()
        self.last_share_ns: dict[int, int] = {}
        self._pll: pll.PllSetting | None = None
        self._jobs: dict[int, Job] = {}
        self._last_job: Job | None = None
        self._next_job_id = 0
        self._registers: queue.SimpleQueue[RegisterReply] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._lock = threading.RLock()
        self.error: DeviceError | None = None

    # ----------------------------------------------------------------- lifecycle
    def open(self) -> ChainDriver:
        """Open the link and start the reader thread (no-op when already open)."""
        if self._reader is not None and self._reader.is_alive():
            return self
        self.transport.open()
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name="bm13xx-reader",
                                        daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        """Stop the reader and close the link. Idempotent."""
        self._stop.set()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5.0)
        self._reader = None
        self.transport.close()

    def __enter__(self) -> ChainDriver:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        while not self._registers.empty():
            self._registers.get_nowait()
        if address is None:
            self.send(codec.read_register(register))
        else:
            self.send(codec.read_register(register, address=address, all_chips=False))
        replies: list[RegisterReply] = []
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                reply = self._registers.get(timeout=remaining)
            except queue.Empty:
                break
            if reply.register == register:
                replies.append(reply)
                deadline = time.monotonic() + min(timeout_s, 0.1)  # idle gap after a reply
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
        i x (256 / chips), ticket mask, PLL, optional baud switch. Returns the chip count;
        raises DeviceError when no chip answers."""
        for _ in range(3):
            self.send(codec.write_register(self.family.version_mask_register or 0xA4,
                                           codec.version_mask_value(self.version_mask)))
        count = self.enumerate(timeout_s=timeout_s)
        if count == 0:
            raise DeviceError(f"no {self.family.name} answered on {self.transport.url}")
        if expected_chips is not None and count != expected_chips:
            log.warning("%d chip(s) answered on %s, expected %d", count, self.transport.url,
                        expected_chips)
        self.send(codec.chain_inactive())
        self.chip_count, self.interval = count, address_interval(count)
        for i in range(count):
            self.send(codec.set_address(i * self.interval))
        self.set_ticket_difficulty(self.ticket_difficulty)
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

    def set_ticket_difficulty(self, difficulty: float) -> float:
        """Write the ticket mask; returns the power-of-two difficulty the chips apply."""
        value = codec.ticket_mask_value(difficulty)
        self.send(codec.write_register(self.family.ticket_mask_register, value))
        self.ticket_difficulty = float(difficulty)
        return float(codec.ticket_difficulty_of(value))

    def set_frequency(self, mhz: float, *, override: bool = False) -> ControlEvent:
        """Program every chip's PLL to the grid point closest to ``mhz`` (MHz).

        Refused with EnvelopeError outside the device spec's safe range unless
        ``override``; the ControlEvent (value = grid MHz, requested = mhz) is returned
        and sent to the sink."""
        if self.spec is not None:
            mhz = self.spec.check("frequency", mhz, "MHz", override=override)
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
            self._jobs[job.job_id] = job
            self._last_job = job
        self.send(codec.encode_job(job))
        self._emit(JobEvent(time.time_ns(), self.device, label or f"{job.job_id:02x}",
                            self.verify_difficulty))
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

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, t_ns = self.transport.read(self.read_timeout_s)
            except DeviceError as exc:
                if self._stop.is_set():
                    break
                self.parser.flush()
                self._sync_counters()
                if not self._reconnect(exc):
                    break
                continue
            if data:
                self.counters["rx_bytes"] += len(data)
                for frame in self.parser.feed(data):
                    self._handle(frame, t_ns)
                self._sync_counters()

    def _sync_counters(self) -> None:
        d = self.parser.dropped
        self.counters["crc_errors"] = d["crc"]
        self.counters["garbage_bytes"] = d["garbage_bytes"]
        self.counters["truncated"] = d["truncated"]

    def _handle(self, frame: bytes, t_ns: int) -> None:
        mono = time.monotonic_ns()
        reply = codec.parse_reply(frame)  # CRC already checked by the parser
        if isinstance(reply, RegisterReply):
            self.counters["register_replies"] += 1
            self._registers.put(reply)
            return
        self._handle_nonce(reply, t_ns, mono)

    def _handle_nonce(self, reply: NonceReply, t_ns: int, mono_ns: int) -> None:
        job = self._jobs.get(self.family.job_id_of(reply.id_byte))
        if job is None:
            self.counters["unknown_job"] += 1
            return
        share, reached = codec.verify_nonce(self.family, job, reply, interval=self.interval,
                                            difficulty=self.verify_difficulty)
        if share is None:
            self.counters["bad_hash"] += 1
            return
        self.counters["shares"] += 1
        self.last_share_ns[share.chip] = t_ns
        self._emit(ShareEvent(
            t_ns=t_ns,
            device=self.device,
            job_id=f"{job.job_id:02x}",
            nonce=reply.nonce,
            difficulty=self.verify_difficulty,
            share_difficulty=reached,
            outcome=ShareOutcome.ACCEPTED,
            chip=share.chip,
            core=share.core,
            version_bits=share.version ^ job.version,
            t_source=TimestampSource.SERIAL,
            t_parse_mono_ns=mono_ns,
        ))

    def _reconnect(self, cause: DeviceError) -> bool:
        log.warning("serial link lost: %s; reconnecting for up to %.1f s", cause,
                    self.reconnect_timeout_s)
        self.counters["link_lost"] += 1
        deadline = time.monotonic() + self.reconnect_timeout_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.transport.open()
                self._reapply()
                self.counters["reconnects"] += 1
                log.info("serial link %s reopened", self.transport.url)
                return True
            except DeviceError:
                self.transport.close()
                self._stop.wait(0.1)
        self.transport.close()
        self.error = DeviceError(f"serial link {self.transport.url!r} closed and did not come "
                                 f"back within {self.reconnect_timeout_s} s: {cause}")
        log.error("%s", self.error)
        return False

    def _reapply(self) -> None:
        self.transport.write(codec.write_register(
            self.family.ticket_mask_register, codec.ticket_mask_value(self.ticket_difficulty)))
        if self.family.version_mask_register is not None:
            self.transport.write(codec.write_register(
                self.family.version_mask_register, codec.version_mask_value(self.version_mask)))
        if self._pll is not None:
            self.transport.write(codec.write_register(
                self.family.pll_register,
                pll.register_payload(self.family.name, self._pll)[2:]))
        if self._last_job is not None:
            self.transport.write(codec.encode_job(self._last_job))


# --------------------------------------------------------------------------- Device


class SerialDevice(Device):
    """A miner reached on its chip UART (BitAxe-style boards with a USB-UART bridge).

    Without a pool the device mines local jobs (random merkle roots, a new job every
    ``job_interval_s`` s): shares then carry timing and chip/core attribution, which is
    what experiments use; a Stratum bridge can call ``driver.send_job`` instead.
    """

    def __init__(
        self,
        port_url: str,
        *,
        chip: str = "BM1366",
        model: str | None = None,
        baud: int | None = None,
        fast_baud: bool = False,
        ticket_difficulty: float = 256.0,
        verify_difficulty: float | None = None,
        frequency_mhz: float | None = None,
        expected_chips: int | None = None,
        job_interval_s: float | None = 2.0,
        reconnect_timeout_s: float = 2.0,
    ) -> None:
        fam = family(chip)
        self.spec = spec_for(model) if model else _spec_for_chip(fam)
        if self.spec.chip.upper() != fam.name:
            raise ValueError(f"model {self.spec.model} has {self.spec.chip}, not {fam.name}")
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._clock = WallClock()
        self._info = DeviceInfo(device_id=f"serial:{port_url}", model=self.spec.model,
                                serial=port_url, firmware=f"{fam.name} UART")
        self.driver = ChainDriver(
            port_url, chip=fam.name, baud=baud, sink=self._events.put,
            device=self._info.device_id, spec=self.spec, ticket_difficulty=ticket_difficulty,
            verify_difficulty=verify_difficulty, reconnect_timeout_s=reconnect_timeout_s,
        )
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self.driver.open()
        try:
            self.driver.initialise(
                expected_chips=expected_chips,
                frequency_mhz=frequency_mhz or self.spec.default_frequency_mhz,
                fast_baud=fast_baud,
            )
            if job_interval_s:
                self._feed_job()
                self._feeder = threading.Thread(target=self._feed_loop, args=(job_interval_s,),
                                                name="bm13xx-jobs", daemon=True)
                self._feeder.start()
        except BaseException:
            self.driver.close()
            raise

    @property
    def info(self) -> DeviceInfo:
        return self._info

    @property
    def clock(self) -> Clock:
        return self._clock

    def _feed_job(self) -> None:
        self.driver.send_job(version=0x20000000, prev_hash=os.urandom(32),
                             merkle_root=os.urandom(32), ntime=int(time.time()),
                             nbits=0x1705DD01)

    def _feed_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self._feed_job()
            except DeviceError:
                if self.driver.error is not None:
                    return

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        if knob == "frequency":
            # Device.set_knob checked the envelope already.
            return self.driver.set_frequency(value, override=True)
        if knob == "difficulty":
            applied = self.driver.set_ticket_difficulty(value)
            event = ControlEvent(time.time_ns(), self._info.device_id, "difficulty",
                                 applied, "1", requested=value)
            self._events.put(event)
            return event
        raise UnknownKnobError(f"{knob} is not reachable over the chip UART (board-level knob)")

    def events(self) -> Iterator[Event]:
        out: list[Event] = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        out.sort(key=lambda e: e.t_ns)
        return iter(out)

    def read_telemetry(self) -> list[TelemetryEvent]:
        now, dev = time.time_ns(), self._info.device_id
        d = self.driver
        out = [TelemetryEvent(now, dev, f"uart_{k}", float(v), "1")
               for k, v in sorted(d.counters.items())]
        if d.frequency_mhz is not None:
            out.append(TelemetryEvent(now, dev, "frequency", d.frequency_mhz, "MHz"))
        out += [TelemetryEvent(now, dev, "chip_responding", 0.0 if i in d.silent_chips else 1.0,
                               "1", index=i) for i in range(d.chip_count)]
        return out

    def close(self) -> None:
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join(timeout=5.0)
            self._feeder = None
        self.driver.close()


def _spec_for_chip(fam: ChipFamily) -> DeviceSpec:
    for name in ("lv06", "s9"):
        spec = spec_for(name)
        if spec.chip.upper() == fam.name:
            return spec
    raise ValueError(f"no device model with a {fam.name}; pass model=")


_URL_PARAMS: dict[str, Callable[[str], object]] = {
    "chip": str, "model": str, "baud": int, "fast_baud": lambda s: s.lower() in ("1", "true"),
    "ticket_difficulty": float, "verify_difficulty": float, "frequency_mhz": float,
    "expected_chips": int, "job_interval_s": float, "reconnect_timeout_s": float,
}


def parse_url(url: str) -> tuple[str, dict[str, object]]:
    """Split ``serial://PATH?chip=bm1366&baud=115200`` into (pyserial URL or path, kwargs).

    PATH may itself be a pyserial URL: ``serial://socket://127.0.0.1:5000?chip=bm1366``.
    Unknown parameters raise ValueError."""
    if not url.startswith("serial://"):
        raise ValueError(f"not a serial:// URL: {url!r}")
    rest = url[len("serial://"):]
    target, _, query = rest.rpartition("?") if "?" in rest else (rest, "", "")
    if not target:
        raise ValueError(f"no port in {url!r}")
    kwargs: dict[str, object] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        conv = _URL_PARAMS.get(key)
        if conv is None:
            raise ValueError(f"unknown parameter {key!r} in {url!r}; known: {sorted(_URL_PARAMS)}")
        kwargs[key] = conv(value)
    return target, kwargs


def open_url(url: str, **kwargs: object) -> SerialDevice:
    """Device backend opener for ``serial://`` URLs (register as
    ``"serial": "asic_bridge.serial.driver:open_url"``). Keyword arguments override the
    URL's parameters."""
    target, params = parse_url(url)
    params.update(kwargs)
    return SerialDevice(target, **params)  # type: ignore[arg-type]
