"""`hashrc capture` when its device fails mid-capture, when it would run two pools, and
when its difficulty schedule goes through the device's own pool (loopback and pty only)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader
from asic_bridge.capture.recorder import record
from asic_bridge.capture.schedule import load_schedule
from asic_bridge.errors import DeviceError, UrlError
from emulator.faces.http_api import AxeOSFace
from emulator.live import LiveEmulator


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _record_in_thread(url: str, out: Path, duration_s: float) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["summary"] = record(url, out, duration_s=duration_s)
        except BaseException as exc:  # handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_stratum_twice_is_refused_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "cap.sqlite"
    with pytest.raises(UrlError, match="two pools") as info:
        record("axeos://127.0.0.1:1?stratum=127.0.0.1:0", out, duration_s=1.0,
               stratum_listen=("127.0.0.1", 0))
    assert "\n" not in str(info.value) and not out.exists()
    proc = subprocess.run(
        [sys.executable, "-m", "asic_bridge.cli", "capture", "--device",
         "axeos://127.0.0.1:1?stratum=127.0.0.1:0", "--stratum", "127.0.0.1:3333",
         "--duration", "1", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "two pools" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def test_mqtt_takes_a_url_and_a_site() -> None:
    import argparse

    from asic_bridge.capture.commands import capture

    parser = argparse.ArgumentParser()
    capture.add_arguments(parser)
    base = ["--device", "lv06", "--out", "x.sqlite"]
    args = parser.parse_args([*base, "--mqtt", "mqtt://127.0.0.1:1884", "--site", "bench2"])
    assert args.mqtt == ("127.0.0.1", 1884) and args.site == "bench2"
    assert parser.parse_args([*base, "--mqtt", "127.0.0.1:1885"]).mqtt == ("127.0.0.1", 1885)
    assert parser.parse_args([*base, "--mqtt", "mqtt://broker"]).mqtt == ("broker", 1883)
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--mqtt", "http://127.0.0.1:1883"])


def test_a_serial_link_closed_mid_capture_fails_it_and_keeps_the_events(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "serial"))
    from uart_helpers import face_config, physics_for

    from emulator.faces.uart import PtyUartFace

    face = PtyUartFace(physics_for(20.0), face_config(seed=3)).start()
    out = tmp_path / "serial.sqlite"
    try:
        url = f"serial://{face.path}?chip=bm1366&job_interval_s=0.5&reconnect_timeout_s=0.3"
        thread, result = _record_in_thread(url, out, 30.0)
        time.sleep(1.5)  # shares are recorded
        face.close()  # the pty goes away for good
        thread.join(15.0)
    finally:
        face.close()
    assert not thread.is_alive(), "the capture ran on after its link closed"
    error = result.get("error")
    assert isinstance(error, DeviceError), result
    text = str(error)
    assert "capture failed after" in text and "closed" in text and "kept in" in text
    assert "\n" not in text
    with CaptureReader(out) as reader:
        shares = list(reader.events("shares"))
        statuses = [s.status for s in reader.events("status")]
    assert shares and "link_closed" in statuses
    assert f"{len(shares)}" in text or "events recorded" in text


def test_an_api_device_that_stops_answering_fails_the_capture(tmp_path: Path) -> None:
    out = tmp_path / "api.sqlite"
    with LiveEmulator("lv06", seed=1, warm_up_s=0) as live:
        face = AxeOSFace(live, restart_s=0.1)
        face.start()
        try:
            url = f"{face.url}?period_s=0.1&timeout_s=0.3&retries=0&restart_timeout_s=0.5"
            thread, result = _record_in_thread(url, out, 30.0)
            time.sleep(1.5)  # telemetry is recorded
            face.close()  # the firmware's API is gone
            thread.join(15.0)
        finally:
            face.close()
    assert not thread.is_alive(), "the capture ran on after the device stopped answering"
    error = result.get("error")
    assert isinstance(error, DeviceError) and "stopped answering" in str(error), result
    assert "kept in" in str(error)
    with CaptureReader(out) as reader:
        assert list(reader.events("telemetry"))
        assert "poll_failed" in {s.status for s in reader.events("status")}


def test_difficulty_goes_through_the_devices_own_pool(tmp_path: Path) -> None:
    from emulator.stratum_miner import MinerFarmThread, StratumMinerFarm

    port = _free_port()
    schedule_file = tmp_path / "s.json"
    schedule_file.write_text(json.dumps([{"t_s": 0.5, "knob": "difficulty", "value": 2e-6,
                                          "unit": "1"}]))
    out = tmp_path / "pool.sqlite"
    with LiveEmulator("lv06", seed=1, warm_up_s=0) as live, AxeOSFace(live, restart_s=0.1) as face:
        face.start()
        farm = StratumMinerFarm("lv06", "127.0.0.1", port, count=1, workers=1,
                                hashrate_scale=1e-7)
        with MinerFarmThread(farm):
            record(f"{face.url}?period_s=0.25&stratum=127.0.0.1:{port}&difficulty=1e-6"
                   "&connect_timeout_s=20", out, duration_s=1.5,
                   schedule=load_schedule(schedule_file))
            stats = farm.stats()
    with CaptureReader(out) as reader:
        meta = reader.metadata()
        controls = [c for c in reader.events("control") if c.knob == "difficulty"]
    assert meta["control_path"] == {"difficulty": "pool"}
    assert len(controls) == 1 and controls[0].value == 2e-6
    assert controls[0].device == meta["device_id"]
    assert [m.difficulty for m in stats.miners] == [2e-6]  # the miner got set_difficulty


def test_capture_publishes_under_its_site_and_device_agent(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    from asic_bridge.publish.messages import topic_level
    from tests.mqtt_broker import Broker

    broker = Broker(tmp_path)
    seen: list[tuple[str, bytes]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="site-test")
    client.on_message = lambda _c, _u, msg: seen.append((msg.topic, msg.payload))
    try:
        client.connect("127.0.0.1", broker.port)
        client.subscribe("hashrc/#", qos=1)
        client.loop_start()
        time.sleep(0.3)
        summary = record("emu://lv06?seed=1", tmp_path / "m.sqlite", duration_s=2.0,
                         mqtt=("127.0.0.1", broker.port), site="bench2")
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not any(t.endswith("/shares") for t, _ in seen):
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
        broker.stop()
    topics = {t for t, _ in seen}
    assert topics and all(t.startswith("hashrc/bench2/") for t in topics), topics
    agent_status = f"hashrc/bench2/{topic_level(summary['device'])}/status"
    agent = [json.loads(p) for t, p in seen if t == agent_status]
    assert any(m["status"] in ("online", "offline") and m["site"] == "bench2" for m in agent), agent


def test_hashrc_capture_exits_2_in_one_line_when_the_link_closes(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "serial"))
    from uart_helpers import face_config, physics_for

    from emulator.faces.uart import PtyUartFace

    face = PtyUartFace(physics_for(20.0), face_config(seed=4)).start()
    out = tmp_path / "cli.sqlite"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "asic_bridge.cli", "capture", "--device",
             f"serial://{face.path}?chip=bm1366&job_interval_s=0.5&reconnect_timeout_s=0.3",
             "--duration", "60", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not out.exists():
            time.sleep(0.1)
        time.sleep(1.0)
        face.close()
        _, err = proc.communicate(timeout=30)
    finally:
        face.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    lines = [line for line in err.strip().splitlines() if line.startswith("hashrc capture:")]
    assert len(lines) == 1 and "capture failed after" in lines[0] and "kept in" in lines[0], err
    assert "Traceback" not in err
