"""Record one device (and optionally the pool it mines on) into one capture file.

Shares come from the Stratum pool server (the miner connects to us) or from the chip
UART; telemetry from the device's own poller at its firmware's pace; control changes
from a schedule. Every event goes to one :class:`~asic_bridge.capture.CaptureWriter`.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asic_bridge import __version__
from asic_bridge.capture.schedule import ScheduledSetting
from asic_bridge.capture.store import CaptureWriter
from asic_bridge.device import Device, open_device
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
) -> dict[str, Any]:
    """Capture for ``duration_s`` seconds (on the device's clock); returns a summary.
    With ``mqtt`` (host, port) every recorded event is also published there."""
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    stop = stop or threading.Event()
    device = open_device(device_url)
    server = None
    writer = None
    publisher = None
    try:
        for setting in schedule:  # refuse a bad schedule before anything is recorded
            device.spec.check(setting.knob, setting.value, setting.unit, override=override_envelope)
        info = device.info
        writer = CaptureWriter(out, overwrite=overwrite, metadata={
            "device_model": info.model, "device_serial": info.serial, "firmware": info.firmware,
            "device_url": device_url, "seed": None, "task": "capture", "encoder": None,
            "hashrc_version": __version__,
            "start_time": datetime.datetime.now(datetime.UTC).isoformat(),
            "clock": "simulated" if device.clock.simulated else "wall",
            "chip_count": device.spec.chip_count,
            "stratum_listen": None if stratum_listen is None else f"{stratum_listen[0]}:{stratum_listen[1]}",
        })
        writer.set_metadata("schedule", [[s.t_s, s.knob, s.value, s.unit] for s in schedule])
        sink: Callable[[Event], None] = writer.write
        if mqtt is not None:
            from asic_bridge.publish.mqtt import MqttPublisher, fanout

            publisher = MqttPublisher(*mqtt)
            sink = fanout(writer.write, publisher.write)
        if stratum_listen is not None:
            server = _start_pool(stratum_listen, difficulty, sink)
            writer.set_metadata("pool_address", "{}:{}".format(*server.address))
        clock = device.clock
        start_ns = clock.now_ns()
        pending = list(schedule)
        end_ns = start_ns + round(duration_s * 1e9)
        while clock.now_ns() < end_ns and not stop.is_set():
            elapsed_s = (clock.now_ns() - start_ns) / 1e9
            while pending and pending[0].t_s <= elapsed_s:
                _apply(pending.pop(0), device, server, sink, override_envelope)
            for event in device.events():
                sink(event)
            clock.sleep(min(POLL_S, max(0.0, (end_ns - clock.now_ns()) / 1e9)))
        for event in device.events():
            sink(event)
    finally:
        if server is not None:
            server.close()
        device.close()
        if publisher is not None:
            publisher.close()
        if writer is not None:
            writer.close()
    return {"events": writer.committed, "device": info.device_id}


def _start_pool(listen: tuple[str, int], difficulty: float, sink: Callable[[Event], None]) -> Any:
    from asic_bridge.stratum.jobs import SyntheticJobSource
    from asic_bridge.stratum.pool import Pool, PoolConfig
    from asic_bridge.stratum.server import ServerThread

    config = PoolConfig(difficulty=difficulty, min_difficulty=min(1e-6, difficulty))
    source = SyntheticJobSource(extranonce_size=config.extranonce1_size + config.extranonce2_size)
    return ServerThread(Pool(config, job_source=source, sink=sink),
                        host=listen[0], port=listen[1]).start()


def _apply(setting: ScheduledSetting, device: Device, server: Any,
           sink: Callable[[Event], None], override: bool) -> None:
    if setting.knob == DIFFICULTY.name and server is not None:
        value = device.spec.check(setting.knob, setting.value, setting.unit)
        server.server.set_difficulty(value)
        sink(ControlEvent(time.time_ns(), "pool", setting.knob, value, setting.unit,
                          requested=setting.value))
        return
    device.set_knob(setting.knob, setting.value, setting.unit, override=override)
