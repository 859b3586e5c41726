"""Publish the event stream to an MQTT broker with paho-mqtt.

Each event becomes one JSON message on ``<prefix>/<device>/<kind>`` (kind: ``share``,
``telemetry``, ``control``, ``job``), with every field of the event and ``kind``.
:class:`MqttPublisher` is a sink like :meth:`CaptureWriter.write`; :func:`fanout` feeds
one event to several sinks (record it and publish it).

Publishing never blocks the producer: paho queues messages and its network thread sends
them; while the broker is away paho keeps queueing (up to ``max_queued``) and reconnects.
The capture file, not MQTT, is the record of an experiment.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from asic_bridge.errors import BridgeError
from asic_bridge.events import ControlEvent, Event, JobEvent, ShareEvent, TelemetryEvent

KIND_OF: dict[type, str] = {
    ShareEvent: "share", TelemetryEvent: "telemetry", ControlEvent: "control", JobEvent: "job",
}


def event_payload(event: Event) -> bytes:
    """The JSON message of one event (enums as their values, plus ``kind``)."""
    doc: dict[str, Any] = {"kind": KIND_OF[type(event)]}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        doc[field.name] = value.value if isinstance(value, Enum) else value
    return json.dumps(doc, separators=(",", ":")).encode()


def topic_for(prefix: str, event: Event) -> str:
    """``<prefix>/<device>/<kind>``, with MQTT wildcards in the device name replaced."""
    device = event.device.replace("+", "_").replace("#", "_") or "_"
    return f"{prefix}/{device}/{KIND_OF[type(event)]}"


class MqttPublisher:
    """Publish events to ``host:port`` (loopback by default). ``qos`` 0 or 1."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 1883, *, topic_prefix: str = "hashrc",
        qos: int = 0, client_id: str = "", connect_timeout_s: float = 5.0, max_queued: int = 100_000,
    ) -> None:
        import paho.mqtt.client as mqtt

        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        self.topic_prefix = topic_prefix.rstrip("/")
        self.qos = qos
        self.published = 0
        self._connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.max_queued_messages_set(max_queued)
        self._client.on_connect = lambda *args: self._connected.set()
        self._client.on_disconnect = lambda *args: self._connected.clear()
        try:
            self._client.connect(host, port)
        except OSError as exc:
            raise BridgeError(f"MQTT broker at {host}:{port} unreachable: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(connect_timeout_s):
            self.close()
            raise BridgeError(f"MQTT broker at {host}:{port} did not accept the connection")

    def write(self, event: Event) -> None:
        """Queue one event for publishing (thread-safe, does not wait for the network)."""
        self._client.publish(topic_for(self.topic_prefix, event), event_payload(event), qos=self.qos)
        self.published += 1

    def close(self) -> None:
        """Send what is queued (best effort), disconnect, stop paho's thread. Idempotent."""
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fanout(*sinks: Callable[[Event], None]) -> Callable[[Event], None]:
    """One sink that hands each event to every sink in turn."""

    def write(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return write
