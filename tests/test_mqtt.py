"""The event stream over a real mosquitto broker on loopback (`make test` installs it)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader, CaptureWriter
from asic_bridge.errors import BridgeError
from asic_bridge.events import ShareEvent, ShareOutcome, TelemetryEvent
from asic_bridge.publish.mqtt import MqttPublisher, fanout

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    assert Path(MOSQUITTO).exists(), "mosquitto is required (make test installs it)"
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _subscribe(port: int, topic: str, received: list, ready: threading.Event):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, msg: received.append((msg.topic, json.loads(msg.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_events_are_published_and_recorded(broker: int, tmp_path: Path) -> None:
    received: list = []
    ready = threading.Event()
    subscriber = _subscribe(broker, "hashrc/#", received, ready)
    try:
        assert ready.wait(5)
        events = [
            ShareEvent(1, "lv06-1", "j1", 42, 0.001, 0.5, ShareOutcome.ACCEPTED, chip=0, core=3),
            TelemetryEvent(2, "lv06-1", "chip_temp", 55.25, "degC"),
        ]
        with MqttPublisher("127.0.0.1", broker, qos=1) as publisher, \
                CaptureWriter(tmp_path / "c.sqlite", metadata={}) as writer:
            sink = fanout(writer.write, publisher.write)
            for event in events:
                sink(event)
            deadline = time.monotonic() + 5
            while len(received) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    topics = dict(received)
    assert set(topics) == {"hashrc/lv06-1/share", "hashrc/lv06-1/telemetry"}
    share = topics["hashrc/lv06-1/share"]
    assert share["outcome"] == "accepted" and share["nonce"] == 42 and share["core"] == 3
    assert topics["hashrc/lv06-1/telemetry"]["value"] == 55.25
    with CaptureReader(tmp_path / "c.sqlite") as reader:
        assert reader.count("shares") == 1 and reader.count("telemetry") == 1


def test_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(BridgeError, match="MQTT broker"):
        MqttPublisher("127.0.0.1", _free_port(), connect_timeout_s=1.0)


def test_capture_publishes_while_it_records(broker: int, tmp_path: Path) -> None:
    from asic_bridge.capture.recorder import record

    received: list = []
    ready = threading.Event()
    subscriber = _subscribe(broker, "hashrc/+/telemetry", received, ready)
    try:
        assert ready.wait(5)
        record("emu://lv06?seed=1", tmp_path / "c.sqlite", duration_s=10.0, mqtt=("127.0.0.1", broker))
        deadline = time.monotonic() + 5
        with CaptureReader(tmp_path / "c.sqlite") as reader:
            recorded = reader.count("telemetry")
        while len(received) < recorded and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    assert recorded > 0 and len(received) == recorded
    assert {t for t, _ in received} == {"hashrc/LV06-EMU-0001/telemetry"}
