"""Record one device (and optionally the pool it mines on) into one capture file.

Control events are recorded once, for the device they act on: a scheduled difficulty
change through ``--stratum`` is one event with the device's id, not one per session.

Shares come from the Stratum pool server (the miner connects to us) or from the chip
UART; telemetry from the device's own poller at its firmware's pace; control changes
from a schedule. Every event goes to one :class:`~asic_bridge.capture.CaptureWriter`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asic_bridge.capture.metadata import device_metadata, discard_capture, new_capture, refuse_existing
from asic_bridge.capture.schedule import ScheduledSetting
from asic_bridge.device import Device, open_device
from asic_bridge.errors import DeviceError, UnknownKnobError, UrlError
from asic_bridge.events import ControlEvent, Event
from asic_bridge.models import DIFFICULTY

POLL_S = 0.1  # how often events are drained from the device, seconds


def record(
    device_url: str,
    out: str | Path,
    *,
    duration_s: float,
    schedule: Sequence[ScheduledSetting] = (),
    stratum_listen: tuple[str, int] | None = None,
    difficulty: float = 1e-3,
    override_envelope: bool = False,
    overwrite: bool = False,
    stop: threading.Event | None = None,
    mqtt: tuple[str, int] | None = None,
    site: str = "local",
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Capture for ``duration_s`` seconds (on the device's clock); returns a summary
    (``events`` committed, ``device``, ``seconds`` recorded, ``interrupted``).

    The capture file is created only once the device is open and the pool (if any) is
    listening; a failure before the recording starts leaves no file behind. Events are
    written every :data:`POLL_S` as they arrive. With ``mqtt`` (host, port) every
    recorded event is also published there (as ``site``, agent = the device id).
    ``progress(elapsed_s)`` is called after each poll.

    A scheduled difficulty change goes through the device when its difficulty is a pool
    knob (a device URL with ``?stratum=``), else through the pool of ``stratum_listen``.
    When the device fails mid-capture (:meth:`~asic_bridge.device.Device.failure`: a
    link closed for good, a device that stopped answering), the recording stops, what
    was recorded is kept, and DeviceError names the cause and what was kept."""
    if not duration_s > 0:
        raise ValueError(f"--duration must be positive, got {duration_s:g}")
    if stratum_listen is not None and _own_pool(device_url):
        raise UrlError(f"--stratum and ?stratum= in {device_url!r} would run two pools: the "
                       "device URL's pool already records its miner's shares; drop --stratum")
    refuse_existing(out, overwrite)  # before touching the device
    stop = stop or threading.Event()
    device = open_device(device_url)
    server = None
    writer = None
    publisher = None
    recording = False
    elapsed_s = 0.0
    try:
        for setting in schedule:  # refuse a bad schedule before anything is recorded
            device.spec.check(setting.knob, setting.value, setting.unit, override=override_envelope)
            if not (setting.knob == DIFFICULTY.name and stratum_listen is not None):
                device.control_path(setting.knob)  # UnknownKnobError: no path for this knob
        knobs = sorted({s.knob for s in schedule})
        meta = device_metadata(
            device, device_url, task="capture", knobs=knobs,
            schedule=[[s.t_s, s.knob, s.value, s.unit] for s in schedule] or None,
            extra={"duration_s": duration_s, "pool_difficulty": difficulty if stratum_listen else None,
                   "stratum_listen": None if stratum_listen is None
                   else f"{stratum_listen[0]}:{stratum_listen[1]}"},
        )
        if stratum_listen is not None and DIFFICULTY.name in knobs:
            meta = _with_path(meta, DIFFICULTY.name, "pool")
        relay = _Relay()
        if stratum_listen is not None:  # listening before the file exists
            server = _start_pool(stratum_listen, difficulty, relay, relay.congested)
        writer = new_capture(out, meta, overwrite=overwrite)
        sink: Callable[[Event], None] = writer.write
        if mqtt is not None:
            from asic_bridge.publish.mqtt import MqttPublisher, fanout

            publisher = MqttPublisher(*mqtt, site=site, agent=device.info.device_id)
            sink = fanout(writer.write, publisher.write)
        relay.attach(_without_session_controls(sink), writer.is_congested)
        if server is not None:
            writer.set_metadata("pool_address", "{}:{}".format(*server.address))
        clock = device.clock
        start_ns = clock.now_ns()
        pending = list(schedule)
        end_ns = start_ns + round(duration_s * 1e9)
        recording = True
        failure = None
        while clock.now_ns() < end_ns and not stop.is_set():
            failure = device.failure()
            if failure is not None:
                break
            elapsed_s = (clock.now_ns() - start_ns) / 1e9
            while pending and pending[0].t_s <= elapsed_s:
                _apply(pending.pop(0), device, server, sink, override_envelope)
            for event in device.events():
                sink(event)
            if progress is not None:
                progress(elapsed_s)
            clock.sleep(min(POLL_S, max(0.0, (end_ns - clock.now_ns()) / 1e9)))
        elapsed_s = (clock.now_ns() - start_ns) / 1e9
        for event in device.events():
            sink(event)
        failure = failure or device.failure()
        health = device.health()
    except BaseException:
        if writer is not None and not recording:
            writer.close()
            discard_capture(out)
            writer = None
        raise
    finally:
        if server is not None:
            server.close()
        device.close()
        if publisher is not None:
            publisher.close()
        if writer is not None:
            writer.close()
    summary = {"events": writer.committed if writer else 0, "device": device.info.device_id,
               "seconds": elapsed_s, "interrupted": stop.is_set(), "path": str(out)}
    if failure is not None:
        raise DeviceError(f"capture failed after {elapsed_s:.1f} s of {duration_s:g} s: {failure}; "
                          f"{summary['events']} events recorded until then are kept in {out}")
    if not health.answered:
        raise DeviceError(f"{device_url} never answered in {elapsed_s:.1f} s ({health.summary()}); "
                          f"{summary['events']} events kept in {out}: check the URL and the device")
    return summary


class _Relay:
    """The pool's sink: holds events until the capture exists, then forwards them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._early: list[Event] = []
        self._sink: Callable[[Event], None] | None = None
        self._congested: Callable[[], bool] | None = None

    def congested(self) -> bool:
        """The capture writer's back-pressure (False until it exists)."""
        test = self._congested
        return test is not None and test()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._sink is None:
                self._early.append(event)
                return
        self._sink(event)

    def attach(self, sink: Callable[[Event], None],
               congested: Callable[[], bool] | None = None) -> None:
        with self._lock:
            for event in self._early:
                sink(event)
            self._early.clear()
            self._sink = sink
            self._congested = congested


def _with_path(meta: Any, knob: str, path: str) -> Any:
    from dataclasses import replace

    return replace(meta, control_path={**meta.control_path, knob: path})


def _without_session_controls(sink: Callable[[Event], None]) -> Callable[[Event], None]:
    """The pool restates a difficulty change once per miner session; the recorder records
    it once, for the device (:func:`_apply`), so those copies are left out."""

    def forward(event: Event) -> None:
        if isinstance(event, ControlEvent) and event.knob == DIFFICULTY.name:
            return
        sink(event)

    return forward


def _own_pool(device_url: str) -> bool:
    """True when the device URL runs the device's own pool (``?stratum=``)."""
    from asic_bridge.urls import parse_device_url

    if "://" not in device_url:  # a bare model name: the in-process emulator
        return False
    return parse_device_url(device_url).option("stratum") is not None


def _start_pool(listen: tuple[str, int], difficulty: float, sink: Callable[[Event], None],
                congested: Callable[[], bool]) -> Any:
    from asic_bridge.stratum.jobs import SyntheticJobSource
    from asic_bridge.stratum.pool import Pool, PoolConfig
    from asic_bridge.stratum.server import ServerThread

    config = PoolConfig(difficulty=difficulty, min_difficulty=min(1e-6, difficulty))
    source = SyntheticJobSource(extranonce_size=config.extranonce1_size + config.extranonce2_size)
    return ServerThread(Pool(config, job_source=source, sink=sink, congested=congested),
                        host=listen[0], port=listen[1]).start()


def _apply(setting: ScheduledSetting, device: Device, server: Any,
           sink: Callable[[Event], None], override: bool) -> None:
    if (setting.knob == DIFFICULTY.name and server is not None
            and _path(device, setting.knob) != "pool"):  # the device's own pool: set_knob
        value = device.spec.check(setting.knob, setting.value, setting.unit)
        server.server.set_difficulty(value)
        sink(ControlEvent(device.clock.now_ns(), device.info.device_id, setting.knob, value,
                          setting.unit, requested=setting.value))
        return
    device.set_knob(setting.knob, setting.value, setting.unit, override=override)


def _path(device: Device, knob: str) -> str | None:
    try:
        return device.control_path(knob)
    except UnknownKnobError:
        return None
