"""The ``serial://`` Device backend: a miner reached on its chip UART (BitAxe-style
boards with a USB-UART bridge), driven by a :class:`~asic_bridge.serial.chain.ChainDriver`.

URL: ``serial://PATH?chip=bm1366&baud=115200`` (PATH may be any pyserial URL, e.g.
``socket://127.0.0.1:5000``); options as in :data:`asic_bridge.urls.SCHEMES`. The
ticket difficulty is the driver's (see :mod:`asic_bridge.serial.chain`): nothing else is
needed to capture an emulated chain (``hashrc emulate lv06 --serial``) or a real one.

The device's event stream carries the driver's shares, jobs, clock changes and status
events (``no_valid_nonces``, ``link_reopened``, ``link_closed``). Every
``telemetry_period_s`` it adds what changed of:

* telemetry in the one schema (:mod:`asic_bridge.telemetry_schema`): ``hw_errors``
  (nonces that failed the hash check at the ticket difficulty, as the firmware counts
  them; cumulative);
* link faults as :class:`StatusEvent` ``uart_<counter>`` whose ``count`` is the increase
  since the last report and whose detail gives the running total: ``crc_errors``,
  ``garbage_bytes``, ``truncated``, ``unknown_job``, ``register_overflow``,
  ``unsolicited_registers``, ``foreign_chip_ids``, ``chip_silent``, ``link_lost``,
  ``reconnects`` (link counters are not measurements of the chip, so they stay out of
  the telemetry a readout could use as features).

:attr:`SerialDevice.stats` holds all driver counters as ``uart_<name>``. When the link
closes for good, :attr:`SerialDevice.error` (also ``last_error`` and ``health()``) holds
the cause and :attr:`failed` is true; every later knob call raises it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import ClassVar

from asic_bridge.device import Device, DeviceInfo, WallClock
from asic_bridge.errors import DeviceError, UnknownKnobError
from asic_bridge.events import ControlEvent, Event, StatusEvent, TelemetryEvent
from asic_bridge.models import DeviceSpec, spec_for
from asic_bridge.serial.chain import ChainDriver
from asic_bridge.serial.chips import ChipFamily, family

LINK_FAULTS = ("crc_errors", "garbage_bytes", "truncated", "unknown_job", "register_overflow",
               "unsolicited_registers", "foreign_chip_ids", "chip_silent", "link_lost",
               "reconnects")
"""Driver counters reported as ``uart_<name>`` StatusEvents (see the module docstring)."""


class SerialDevice(Device):
    """A chip chain as a Device. Without a pool the device mines local jobs (random
    merkle roots, a new job every ``job_interval_s`` s): shares then carry timing and
    chip/core attribution, which is what experiments use; a Stratum bridge can call
    ``driver.send_job`` instead. Knobs: ``frequency`` (PLL, MHz) and ``difficulty``
    (ticket difficulty)."""

    control_paths: ClassVar[dict[str, str]] = {"frequency": "chip UART",
                                               "difficulty": "chip UART"}

    def __init__(
        self,
        port_url: str,
        *,
        chip: str = "BM1366",
        model: str | None = None,
        baud: int | None = None,
        fast_baud: bool = False,
        ticket_difficulty: float | None = None,
        frequency_mhz: float | None = None,
        expected_chips: int | None = None,
        job_interval_s: float | None = 2.0,
        reconnect_timeout_s: float = 2.0,
        stall_warning_s: float = 30.0,
        telemetry_period_s: float = 1.0,
    ) -> None:
        fam = family(chip)
        spec = spec_for(model) if model else _spec_for_chip(fam)
        if spec.chip.upper() != fam.name:
            raise ValueError(f"model {spec.model} has {spec.chip}, not {fam.name}")
        info = DeviceInfo(device_id=f"serial://{port_url}", model=spec.model,
                          serial=port_url, firmware=f"{fam.name} UART")
        super().__init__(spec=spec, info=info, clock=WallClock())
        self.driver = ChainDriver(
            port_url, chip=fam.name, baud=baud, sink=self._emit, device=info.device_id,
            spec=spec, ticket_difficulty=ticket_difficulty,
            reconnect_timeout_s=reconnect_timeout_s, stall_warning_s=stall_warning_s,
        )
        self.telemetry_period_s = telemetry_period_s
        self._reported: dict[str, int] = {}
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.driver.open()
        try:
            self.driver.initialise(
                expected_chips=expected_chips,
                frequency_mhz=frequency_mhz or spec.default_frequency_mhz,
                fast_baud=fast_baud,
            )
            if job_interval_s:
                self._feed_job()
            self._worker = threading.Thread(target=self._work, args=(job_interval_s,),
                                            name="bm13xx-device", daemon=True)
            self._worker.start()
        except BaseException:
            self.driver.close()
            raise

    # -- failure --------------------------------------------------------------------------
    @property
    def error(self) -> DeviceError | None:
        """Why the link is gone for good (None while it works)."""
        return self.driver.error

    @property
    def failed(self) -> bool:
        """True once the link closed and did not come back: the capture is incomplete."""
        return self.driver.error is not None

    def failure(self) -> DeviceError | None:
        """The link's closing cause once it is gone for good (see :attr:`error`)."""
        return self.driver.error

    # -- primitives -----------------------------------------------------------------------
    def _feed_job(self) -> None:
        self.driver.send_job(version=0x20000000, prev_hash=os.urandom(32),
                             merkle_root=os.urandom(32), ntime=int(time.time()),
                             nbits=0x1705DD01)

    def _work(self, job_interval_s: float | None) -> None:
        """Local jobs and counter telemetry until closed or the link is gone."""
        next_job = time.monotonic() + (job_interval_s or 0.0)
        next_report = time.monotonic()
        while not self._stop.wait(0.05):
            now = time.monotonic()
            if job_interval_s and now >= next_job and self.driver.error is None:
                next_job = now + job_interval_s
                with contextlib.suppress(DeviceError):  # the reader reconnects or gives up
                    self._feed_job()
            if now >= next_report:
                next_report = now + self.telemetry_period_s
                self._report_counters()
            if self.driver.error is not None:
                self.last_error = self.driver.error
                self._report_counters()
                return

    def _report_counters(self) -> None:
        """Emit what changed since the last report (see the module docstring)."""
        now, dev = time.time_ns(), self.info.device_id
        counters = dict(self.driver.counters)
        events: list[Event] = []
        bad = counters.get("bad_hash", 0)
        if self._reported.get("bad_hash") != bad:
            events.append(TelemetryEvent(now, dev, "hw_errors", float(bad), "1"))
        for name in LINK_FAULTS:
            total = counters.get(name, 0)
            delta = total - self._reported.get(name, 0)
            if delta > 0:
                events.append(StatusEvent(now, dev, f"uart_{name}",
                                          f"{name}: {total} so far on {self.driver.transport.url}",
                                          delta))
        self._reported = counters
        self._reported.setdefault("bad_hash", bad)
        if events:
            self._emit_many(events)

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        if knob == "frequency":
            # Device.set_knob checked the model's envelope (or the user overrode it);
            # the driver still holds the chip's physical range.
            return self.driver.set_frequency(value, override=True)
        if knob == "difficulty":
            applied = self.driver.set_ticket_difficulty(value)
            return self._record_control("difficulty", applied, "1", value)
        raise UnknownKnobError(f"{knob} is not reachable over the chip UART (board-level knob)")

    def read_telemetry(self) -> list[TelemetryEvent]:
        """The clock set point and the hardware-error count, now."""
        now, dev = time.time_ns(), self.info.device_id
        d = self.driver
        out = [TelemetryEvent(now, dev, "hw_errors", float(d.counters["bad_hash"]), "1")]
        if d.frequency_mhz is not None:
            out.append(TelemetryEvent(now, dev, "frequency", d.frequency_mhz, "MHz"))
        return out

    @property
    def stats(self) -> dict[str, int]:
        """The base counters plus every driver counter as ``uart_<name>``."""
        return {**super().stats, **{f"uart_{k}": v for k, v in self.driver.counters.items()}}

    def close(self) -> None:
        """Stop local jobs, report the final counters, close the link. Idempotent."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
            self._report_counters()
        self.driver.close()


def _spec_for_chip(fam: ChipFamily) -> DeviceSpec:
    for name in ("lv06", "s9"):
        spec = spec_for(name)
        if spec.chip.upper() == fam.name:
            return spec
    raise ValueError(f"no device model with a {fam.name}; pass model=")


def parse_url(url: str) -> tuple[str, dict[str, object]]:
    """Split ``serial://PATH?chip=bm1366&baud=115200`` into (pyserial URL or path, kwargs)
    with the one device-URL parser (:func:`asic_bridge.urls.parse_device_url`).

    PATH may itself be a pyserial URL: ``serial://socket://127.0.0.1:5000?chip=bm1366``.
    Unknown options raise :class:`~asic_bridge.errors.UrlError` (a ValueError)."""
    from asic_bridge.urls import parse_device_url

    parsed = parse_device_url(url, scheme="serial")  # refuses removed options with the reason
    return parsed.target, dict(parsed.options)


def open_url(url: str, **kwargs: object) -> SerialDevice:
    """Device backend opener for ``serial://`` URLs. Keyword arguments override the
    URL's parameters."""
    target, params = parse_url(url)
    params.update(kwargs)
    return SerialDevice(target, **params)  # type: ignore[arg-type]
