"""The event stream over a real mosquitto broker on loopback (`make test` installs it):
capture agents publish, one recorder records, nothing lost and nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader, CaptureWriter
from asic_bridge.errors import BridgeError, ProtocolError
from asic_bridge.events import (
    ControlEvent,
    Event,
    JobEvent,
    ShareEvent,
    ShareOutcome,
    StatusEvent,
    TelemetryEvent,
    TimestampSource,
)
from asic_bridge.publish.messages import (
    MQTT_SCHEMA_VERSION,
    decode_message,
    encode_event,
    event_id,
    parse_mqtt_url,
    topic_for,
)
from asic_bridge.publish.mqtt import MqttPublisher, fanout
from asic_bridge.publish.recorder import MqttRecorder
from tests.mqtt_broker import Broker, free_port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        b.stop()


def _every_kind(device: str = "lv06-1", t0: int = 1) -> list[Event]:
    return [
        ShareEvent(t0, device, "j1", 42, 0.001, 0.5, ShareOutcome.ACCEPTED, chip=0, core=3,
                   version_bits=0x2000, t_source=TimestampSource.KERNEL, t_parse_mono_ns=7),
        TelemetryEvent(t0 + 1, device, "chip_temp", 55.25, "degC", index=0),
        ControlEvent(t0 + 2, device, "difficulty", 0.25, "1", requested=0.25),
        JobEvent(t0 + 3, device, "j2", 0.25, clean=True),
        StatusEvent(t0 + 4, device, "poll_failed", "timeout after 3 s", count=2),
    ]


def _telemetry(n: int, device: str, t0: int = 0) -> list[Event]:
    return [TelemetryEvent(t0 + k, device, "power", float(k), "W") for k in range(n)]


def _wait(predicate, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _recorded(path: Path) -> list[Event]:
    with CaptureReader(path) as reader:
        return [e for kind in ("shares", "telemetry", "control", "jobs", "status")
                for e in reader.events(kind)]


# -- the message format (no broker) -----------------------------------------------------

def test_every_event_kind_survives_encode_and_decode() -> None:
    for event in _every_kind():
        topic, payload = encode_event(event, site="bench 2")
        doc = json.loads(payload)
        assert doc["schema"] == MQTT_SCHEMA_VERSION and doc["site"] == "bench 2"
        assert topic == f"hashrc/bench 2/lv06-1/{doc['kind']}"
        decoded, identity, site = decode_message(payload)
        assert decoded == event and identity == event_id(event) and site == "bench 2"


def test_identity_tells_distinct_events_apart_and_names_one_event_once() -> None:
    a, b = _telemetry(2, "d")
    assert event_id(a) != event_id(b)
    assert event_id(a) == event_id(TelemetryEvent(0, "d", "power", 0.0, "W"))


def test_topic_levels_cannot_be_split_or_widened() -> None:
    assert topic_for("a/b", "user/worker+#", "shares") == "hashrc/a_b/user_worker__/shares"
    with pytest.raises(ValueError, match="kind"):
        topic_for("s", "d", "share")


@pytest.mark.parametrize("payload", [
    b"not json", b"[1]", b'{"schema": 99, "kind": "shares"}', b'{"schema": 1, "kind": "nope"}',
    b'{"schema": 1, "kind": "telemetry", "id": "x", "t_ns": 1}',
    b"[" * 100_000,
])
def test_garbage_payloads_are_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(payload)


def test_a_tampered_payload_is_refused() -> None:
    _, payload = encode_event(_telemetry(1, "d")[0], site="s")
    with pytest.raises(ProtocolError, match="identity"):
        decode_message(payload.replace(b'"value":0.0', b'"value":1.0'))


def test_broker_urls() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884)
    assert parse_mqtt_url("localhost") == ("localhost", 1883)
    for bad in ("http://x:1", "mqtt://x:99999", "mqtt://:1", "mqtt://x:1/path"):
        with pytest.raises(ValueError):
            parse_mqtt_url(bad)


# -- a real broker -----------------------------------------------------------------------

def _subscribe(port: int, topic: str, received: list, ready: threading.Event):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, msg: received.append((msg.topic, json.loads(msg.payload), msg.retain))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_round_trip_with_topics_schema_and_retained_status(broker: Broker, tmp_path: Path) -> None:
    received: list = []
    ready = threading.Event()
    subscriber = _subscribe(broker.port, "hashrc/#", received, ready)
    try:
        assert ready.wait(5)
        with MqttPublisher("127.0.0.1", broker.port, site="bench1", agent="agent-a") as publisher, \
                CaptureWriter(tmp_path / "c.sqlite", metadata={}) as writer:
            sink = fanout(writer.write, publisher.write)
            for event in _every_kind():
                sink(event)
            assert publisher.flush(5)
        assert _wait(lambda: len(received) >= 7, 5)  # 5 events, online, offline
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    by_topic = {t: doc for t, doc, _ in received}
    assert {"hashrc/bench1/lv06-1/shares", "hashrc/bench1/lv06-1/telemetry", "hashrc/bench1/lv06-1/control",
            "hashrc/bench1/lv06-1/jobs", "hashrc/bench1/lv06-1/status"} <= set(by_topic)
    share = by_topic["hashrc/bench1/lv06-1/shares"]
    assert share["outcome"] == "accepted" and share["nonce"] == 42 and share["schema"] == MQTT_SCHEMA_VERSION
    agent_status = [doc["status"] for t, doc, _ in received if t == "hashrc/bench1/agent-a/status"]
    assert agent_status == ["online", "offline"]
    with CaptureReader(tmp_path / "c.sqlite") as reader:
        assert reader.count("shares") == 1 and reader.count("status") == 1


def test_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(BridgeError, match="MQTT broker"):
        MqttPublisher("127.0.0.1", free_port(), connect_timeout_s=1.0)


def test_a_burst_of_ten_thousand_events_arrives_whole(broker: Broker, tmp_path: Path) -> None:
    events = _telemetry(10_000, "lv06-1")
    with MqttRecorder("127.0.0.1", broker.port, tmp_path / "rec.sqlite") as recorder:
        with MqttPublisher("127.0.0.1", broker.port) as publisher:
            for event in events:
                publisher.write(event)
            assert publisher.flush(30) and publisher.dropped == 0
        assert _wait(lambda: recorder.committed >= 10_001, 30)  # + the agent's online status
    got = [e for e in _recorded(tmp_path / "rec.sqlite") if isinstance(e, TelemetryEvent)]
    assert got == events


def test_broker_restart_mid_stream_loses_nothing_and_duplicates_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    events = _telemetry(4_000, "s9-1")
    sent = threading.Event()

    def publish(publisher: MqttPublisher) -> None:
        deadline = time.monotonic() + 20
        for k, event in enumerate(events):  # about 4,000 events/s, bounded in count and time
            publisher.write(event)
            if k % 100 == 99:
                time.sleep(0.025)
            if time.monotonic() > deadline:
                break
        sent.set()

    with MqttRecorder("127.0.0.1", broker.port, tmp_path / "rec.sqlite") as recorder, \
            MqttPublisher("127.0.0.1", broker.port, agent="agent-s9") as publisher:
        thread = threading.Thread(target=publish, args=(publisher,))
        thread.start()
        assert _wait(lambda: recorder.committed > 500, 10)
        broker.restart()
        thread.join(30)
        assert sent.is_set()
        assert publisher.flush(30), f"{publisher.pending} never acknowledged after the restart"
        want = {event_id(e) for e in events}
        assert _wait(lambda: recorder.recorded >= len(events) + 1, 30), recorder.summary()
    got = [e for e in _recorded(tmp_path / "rec.sqlite") if isinstance(e, TelemetryEvent)]
    assert len(got) == len(events), "lost or duplicated"
    assert {event_id(e) for e in got} == want


def test_two_capture_agents_and_one_recorder(broker: Broker, tmp_path: Path) -> None:
    a, b = _telemetry(300, "lv06-1"), _telemetry(300, "s9-1")
    with MqttRecorder("127.0.0.1", broker.port, tmp_path / "rec.sqlite") as recorder:
        with MqttPublisher("127.0.0.1", broker.port, site="bench1", agent="a") as pa, \
                MqttPublisher("127.0.0.1", broker.port, site="bench2", agent="b") as pb:
            for ea, eb in zip(a, b, strict=True):
                pa.write(ea)
                pb.write(eb)
        assert _wait(lambda: recorder.recorded >= 600 + 4, 10), recorder.summary()
    got = _recorded(tmp_path / "rec.sqlite")
    assert sorted(e.t_ns for e in got if e.device == "lv06-1") == list(range(300))
    assert sorted(e.t_ns for e in got if e.device == "s9-1") == list(range(300))
    statuses = {(e.device, e.status) for e in got if isinstance(e, StatusEvent)}
    assert {("a", "online"), ("b", "online"), ("a", "offline"), ("b", "offline")} <= statuses


def test_a_killed_agent_is_marked_offline_by_its_last_will(broker: Broker) -> None:
    script = (
        "import time\nfrom asic_bridge.publish.mqtt import MqttPublisher\n"
        f"p = MqttPublisher('127.0.0.1', {broker.port}, site='bench9', agent='doomed')\n"
        "print('up', flush=True)\ntime.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"up"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    received: list = []
    ready = threading.Event()
    # mosquitto sends the will after the keep-alive lapses or at once on a dropped socket
    subscriber = _subscribe(broker.port, "hashrc/bench9/doomed/status", received, ready)
    try:
        assert _wait(lambda: any(doc["status"] == "offline" for _, doc, _ in received), 10), received
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    assert all(retained for _, _, retained in received)


def test_capture_publishes_while_it_records(broker: Broker, tmp_path: Path) -> None:
    from asic_bridge.capture.recorder import record

    received: list = []
    ready = threading.Event()
    subscriber = _subscribe(broker.port, "hashrc/+/+/telemetry", received, ready)
    try:
        assert ready.wait(5)
        record("emu://lv06?seed=1", tmp_path / "c.sqlite", duration_s=10.0, mqtt=("127.0.0.1", broker.port))
        with CaptureReader(tmp_path / "c.sqlite") as reader:
            recorded = reader.count("telemetry")
        _wait(lambda: len(received) >= recorded, 5)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    assert recorded > 0 and len(received) == recorded
    assert {t for t, _, _ in received} == {"hashrc/local/LV06-EMU-0001/telemetry"}


def test_record_command_runs_and_says_what_it_kept(broker: Broker, tmp_path: Path) -> None:
    out = tmp_path / "rec.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "record", "--mqtt", f"mqtt://127.0.0.1:{broker.port}",
         "--out", str(out), "--duration", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and b"hashrc record" in proc.stdout.readline()
        with MqttPublisher("127.0.0.1", broker.port) as publisher:
            for event in _telemetry(50, "d"):
                publisher.write(event)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert b"52 events committed" in stdout  # 50 + online + offline
    rerun = subprocess.run([sys.executable, "-m", "asic_bridge.cli", "record", "--mqtt",
                            f"mqtt://127.0.0.1:{broker.port}", "--out", str(out), "--duration", "1"],
                           capture_output=True, text=True, timeout=30)
    assert rerun.returncode == 2 and "--overwrite" in rerun.stderr
