"""The real-time emulator behind the management-API faces, read by hashrc's own backends
through `open_device` over loopback: the physics model is what the API reports."""

from __future__ import annotations

import time

import pytest

from asic_bridge.device import open_device
from asic_bridge.errors import EnvelopeError
from asic_bridge.events import ControlEvent, ShareEvent
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.http_api import AxeOSFace
from emulator.live import LiveEmulator


def test_axeos_face_reports_the_model_and_a_clock_patch_reaches_the_chip() -> None:
    with LiveEmulator("lv06", seed=1, warm_up_s=600) as live, \
            AxeOSFace(live, port=0, restart_s=0.2) as face:
        face.start()
        device = open_device(f"{face.url}?period_s=0.2&restart_timeout_s=10")
        try:
            assert device.wait_for_sample(5.0)
            latest = {t.quantity: t.value for t in device.read_telemetry()}
            snap = live.snapshot()
            assert latest["power"] == pytest.approx(snap["power_w"], rel=0.05)
            assert 40 < latest["chip_temp"] < 75
            assert latest["frequency"] == 485.0
            event = device.set_knob("frequency", 550, "MHz")
            assert isinstance(event, ControlEvent) and event.value == pytest.approx(550, abs=3)
            assert abs(live.frequency_mhz(0) - 550) < 3  # the modelled chip runs at it now
            with pytest.raises(EnvelopeError):
                device.set_knob("frequency", 700, "MHz")
            assert any(isinstance(e, ControlEvent) for e in device.events())
        finally:
            device.close()


def test_cgminer_face_serves_the_s9_model() -> None:
    with LiveEmulator("s9", seed=2, warm_up_s=300) as live, \
            CgminerFace(live, port=0) as face:
        face.start()
        device = open_device(f"{face.url}?period_s=0.5")
        try:
            assert device.wait_for_sample(5.0)
            values = {(t.quantity, t.index): t.value for t in device.read_telemetry()}
            hashrate = [v for (q, _), v in values.items() if q == "hashrate"]
            assert hashrate and 12_000 < hashrate[0] < 16_000  # GH/s, about 14 TH/s
        finally:
            device.close()


def test_live_shares_follow_the_model_in_real_time() -> None:
    got: list[ShareEvent] = []
    live = LiveEmulator("lv06", seed=3, difficulty=2.0, warm_up_s=0)
    live.subscribe_shares(got.append)
    with live:
        time.sleep(1.0)
    rate = 433.6e9 / (2.0 * 2**32)  # ~50 shares/s
    assert 0.5 * rate < len(got) < 1.6 * rate
    assert all(s.t_ns <= live.device.now_ns for s in got)
