"""Live device state for the Devices page, from MQTT or from device URLs (no Streamlit).

:class:`LiveBoard` keeps, per device, the latest value of every telemetry quantity, the
times of its recent accepted shares (for a share rate), its last status and when it was
last heard from; every collection is bounded. :class:`MqttMonitor` feeds a board from a
broker; :class:`DeviceSession` feeds one from a device it opened by URL, records every
event it drains into a capture file (control changes made from the page included) and
applies knob changes through the device's safe envelope.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asic_bridge.events import ControlEvent, Event, ShareEvent, StatusEvent, TelemetryEvent

SHARE_WINDOW_S = 60.0
MAX_SHARES_KEPT = 100_000
MAX_DEVICES = 256
MAX_CONTROLS_KEPT = 100


@dataclass(slots=True)
class DeviceState:
    device: str
    site: str = ""
    last_seen_s: float = 0.0  # time.time() when last heard from
    telemetry: dict[tuple[str, int | None], TelemetryEvent] = field(default_factory=dict)
    share_times_s: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_SHARES_KEPT))
    status: str = ""
    status_detail: str = ""
    controls: deque[ControlEvent] = field(default_factory=lambda: deque(maxlen=MAX_CONTROLS_KEPT))

    def share_rate(self, now_s: float, window_s: float = SHARE_WINDOW_S) -> float:
        """Accepted shares per second over the last ``window_s`` seconds."""
        recent = sum(1 for t in self.share_times_s if t >= now_s - window_s)
        return recent / window_s


class LiveBoard:
    """The latest state of up to :data:`MAX_DEVICES` devices (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceState] = {}

    def update(self, event: Event, site: str = "") -> None:
        now = time.time()
        with self._lock:
            state = self._devices.get(event.device)
            if state is None:
                if len(self._devices) >= MAX_DEVICES:
                    oldest = min(self._devices.values(), key=lambda s: s.last_seen_s)
                    del self._devices[oldest.device]
                state = self._devices[event.device] = DeviceState(event.device, site)
            state.last_seen_s = now
            if isinstance(event, TelemetryEvent):
                state.telemetry[(event.quantity, event.index)] = event
            elif isinstance(event, ShareEvent) and event.outcome == "accepted":
                state.share_times_s.append(now)
            elif isinstance(event, StatusEvent):
                state.status, state.status_detail = event.status, event.detail
            elif isinstance(event, ControlEvent):
                state.controls.append(event)

    def snapshot(self) -> list[DeviceState]:
        with self._lock:
            return [
                DeviceState(s.device, s.site, s.last_seen_s, dict(s.telemetry), deque(s.share_times_s),
                            s.status, s.status_detail, deque(s.controls))
                for s in sorted(self._devices.values(), key=lambda s: s.device)
            ]


class MqttMonitor:
    """Subscribe to every site's events on a broker and keep a :class:`LiveBoard`."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        from asic_bridge.publish.messages import subscription

        self.board = LiveBoard()
        self.error = ""
        self.connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.reconnect_delay_set(min_delay=0.5, max_delay=10)

        def on_connect(client: Any, *_: Any) -> None:
            client.subscribe(subscription(None), qos=0)
            self.connected.set()

        self._client.on_connect = on_connect
        self._client.on_disconnect = lambda *args: self.connected.clear()
        self._client.on_message = self._on_message
        try:
            self._client.connect_async(host, port)
            self._client.loop_start()
        except OSError as exc:
            self.error = f"MQTT broker mqtt://{host}:{port}: {exc}"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        from asic_bridge.errors import ProtocolError
        from asic_bridge.publish.messages import decode_message

        try:
            event, _, site = decode_message(message.payload)
        except ProtocolError:
            return
        self.board.update(event, site)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class DeviceSession:
    """A device opened by URL: a thread drains its events into a board and a capture.

    ``capture`` is the capture file every drained event is written to (``None``: not
    recorded). Knob changes go through :meth:`set_knob`, i.e. the device's safe envelope
    (widened only with ``override``); the control event the device emits is recorded
    like any other event.
    """

    def __init__(self, url: str, capture: Path | None, *, poll_s: float = 0.5) -> None:
        from asic_bridge.capture.metadata import device_metadata, new_capture
        from asic_bridge.device import open_device

        self.url = url
        self.board = LiveBoard()
        self.error = ""
        self._stop = threading.Event()
        self._device = open_device(url)
        info = self._device.info
        self.spec = self._device.spec
        self.device_id = info.device_id
        self._writer = None
        if capture is not None:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            path = capture.with_name(f"{capture.stem}-{stamp}{capture.suffix}")
            # knobs are set by hand from the page, at no planned time: none is declared
            # driven, and every change is in the capture as a control event
            self._writer = new_capture(path, device_metadata(
                self._device, url, task="dashboard", extra={"controls": "set by hand from the dashboard"}))
            self.capture_path: Path | None = path
        else:
            self.capture_path = None
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"dashboard:{url}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._device.clock.simulated:
                        self._device.clock.sleep(self._poll_s)
                    events = list(self._device.events())
                for event in events:
                    self.board.update(event)
                    if self._writer is not None:
                        self._writer.write(event)
            except Exception as exc:  # shown on the page; the session keeps trying
                self.error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self._poll_s)

    def set_knob(self, knob: str, value: float, *, override: bool = False) -> ControlEvent:
        from asic_bridge.models import KNOBS

        with self._lock:
            return self._device.set_knob(knob, value, KNOBS[knob].unit, override=override)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._device.close()
        if self._writer is not None:
            self._writer.close()
