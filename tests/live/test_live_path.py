"""The live path of issue 7 item 6, for each model: ``hashrc emulate MODEL --http|--cgminer
... --stratum ...`` as a subprocess, the matching device URL with ``?stratum=`` opened by
hashrc, difficulty changed a few times through the device's pool: shares and telemetry
arrive, one control event per change, and every row of the miner carries the same device
identity. The emulated miner starts first and keeps retrying its pool until the device
opens it (start order does not matter). Loopback only; every loop bounded."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter

import pytest

from asic_bridge.device import open_device
from asic_bridge.events import ControlEvent, ShareEvent, ShareOutcome, TelemetryEvent
from asic_bridge.urls import parse_device_url

# model, face option, URL scheme
MODELS = [("lv06", "--http", "axeos"), ("s9", "--cgminer", "cgminer"),
          ("lbbox", "--http", "goldshell")]
DIFFICULTIES = (2e-5, 4e-5, 2e-5)  # a few shares per second at the automatic hashrate scale
HOLD_S = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen[str], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hashrc emulate exited early: {proc.communicate()[0]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s")


@pytest.mark.parametrize(("model", "face", "scheme"), MODELS)
def test_live_device_owns_the_pool_its_miner_mines_on(model: str, face: str, scheme: str) -> None:
    api, pool = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "emulate", model, face, f"127.0.0.1:{api}",
         "--stratum", f"127.0.0.1:{pool}", "--workers", "1", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_listening(api, proc)
        time.sleep(0.5)  # the miner is already retrying a pool that does not exist yet
        url = (f"{scheme}://127.0.0.1:{api}?stratum=127.0.0.1:{pool}&period_s=0.5"
               f"&difficulty={DIFFICULTIES[0]}&connect_timeout_s=30")
        events = []
        with open_device(url) as device:
            assert device.control_path("difficulty") == "pool"
            for difficulty in DIFFICULTIES:
                device.set_knob("difficulty", difficulty, "1")
                deadline = time.monotonic() + HOLD_S
                while time.monotonic() < deadline:
                    events.extend(device.events())
                    time.sleep(0.1)
            time.sleep(0.3)
            events.extend(device.events())
            health = device.health()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    kinds = Counter(type(e).__name__ for e in events)
    shares = [e for e in events if isinstance(e, ShareEvent)]
    controls = [e for e in events if isinstance(e, ControlEvent)]
    telemetry = [e for e in events if isinstance(e, TelemetryEvent)]
    assert shares, f"no shares in {kinds}; emulator said: {output[-1500:]}"
    assert all(s.outcome is ShareOutcome.ACCEPTED for s in shares), Counter(s.outcome for s in shares)
    assert telemetry, kinds
    assert [(c.knob, c.value) for c in controls] == [("difficulty", d) for d in DIFFICULTIES]
    identity = parse_device_url(url).device_id
    assert {e.device for e in events} == {identity}  # shares join telemetry
    assert health.answered and health.poll_failures == 0
    assert proc.returncode == 0, output[-1500:]
