"""Backends against the emulated faces over loopback TCP/HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from asic_bridge.api.backends import (
    AxeOSDevice,
    CgminerDevice,
    GoldshellDevice,
    open_axeos,
    open_cgminer,
    open_goldshell,
)
from asic_bridge.api.cgminer import CommandRefused
from asic_bridge.device import WallClock
from asic_bridge.errors import EnvelopeError, UnknownKnobError
from asic_bridge.events import ControlEvent, StatusEvent, TelemetryEvent
from emulator.faces import ModelSnapshotSource, StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import AxeOSFace

FAST = "period_s=0.1&timeout_s=1&retries=1&restart_timeout_s=5"


def hottest(device: object, quantity: str) -> float:
    """The largest latest value of ``quantity`` over its indices (chips, chains)."""
    names = {quantity, f"{quantity}_max"}  # per chip, or the hottest chip per chain
    values = [e.value for e in device.read_telemetry()  # type: ignore[attr-defined]
              if e.quantity in names]
    if not values:
        raise AssertionError(f"no {quantity} reported")
    return max(values)


def latest(device: object, quantity: str, chip: int | None = None) -> float:
    for event in device.read_telemetry():  # type: ignore[attr-defined]
        if event.quantity == quantity and event.index == chip:
            return event.value
    raise KeyError(quantity)


def wait_for(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_static_source_satisfies_protocol() -> None:
    assert isinstance(StaticSnapshotSource(), ModelSnapshotSource)


def test_axeos_telemetry_and_clock_change_after_restart() -> None:
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, restart_s=0.3) as face:
        device = open_axeos(f"{face.url}?{FAST}")
        try:
            assert isinstance(device, AxeOSDevice) and isinstance(device.clock, WallClock)
            assert device.wait_for_sample(3.0)
            assert latest(device, "frequency") == 485
            assert latest(device, "hashrate") == pytest.approx(485 * 894 / 1000)
            assert latest(device, "power") == pytest.approx(13.0)
            assert device.info.extra["miner_model"] == "LV06"
            assert device.info.serial == face.mac

            # the PATCH alone does not change the running clock
            face.firmware.store("frequency_mhz", 500)
            assert source.frequency_mhz == 485
            face.firmware.restart()  # applies it (a reboot, as the firmware does)
            assert source.frequency_mhz == 500
            assert wait_for(lambda: not face.firmware.rebooting)

            event = device.set_knob("frequency", 525, "MHz")
            assert event == ControlEvent(event.t_ns, device.info.device_id, "frequency", 525.0,
                                         "MHz", 525.0)
            assert face.firmware.restarts == 2 and source.frequency_mhz == 525
            assert wait_for(lambda: latest(device, "frequency") == 525)
            assert latest(device, "hashrate") == pytest.approx(525 * 894 / 1000)
            events = list(device.events())
            assert any(e == event for e in events)
            assert all(isinstance(e, TelemetryEvent | ControlEvent | StatusEvent) for e in events)
            # polls during the reboot fail: recorded as status events, not lost
            assert all(e.status == "poll_failed" for e in events if isinstance(e, StatusEvent))
            assert [e.t_ns for e in events] == sorted(e.t_ns for e in events)

            fan = device.set_knob("fan", 40, "%")
            assert fan.value == 40 and source.fan_pct == 40
        finally:
            device.close()


def test_axeos_envelope_refusal_sends_nothing() -> None:
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, restart_s=0.1) as face, open_axeos(f"{face.url}?{FAST}") as device:
        before = face.requests
        with pytest.raises(EnvelopeError):
            device.set_knob("frequency", 800, "MHz")
        with pytest.raises(EnvelopeError):
            device.set_knob("core_voltage", 1500, "mV")
        with pytest.raises(UnknownKnobError):
            device.set_knob("difficulty", 1000, "1")
        assert not any(isinstance(e, ControlEvent) for e in device.events())
        time.sleep(0.05)
        assert face.firmware.restarts == 0 and source.frequency_mhz == 485
        assert face.requests >= before  # only polls went out
        event = device.set_knob("core_voltage", 1250, "mV")
        assert event.value == 1250 and source.core_voltage_mv == 1250


def test_axeos_bitaxe_flavour_and_numeric_best_diff() -> None:
    face = AxeOSFace(StaticSnapshotSource(), flavour="bitaxe", best_diff_as="number")
    with face, open_axeos(f"{face.url}?{FAST}") as device:
        info = device.system_info()
        assert "minerModel" not in info and isinstance(info["bestDiff"], float)
        assert device.wait_for_sample(3.0)
        assert latest(device, "best_diff") == 618e6


def test_cgminer_s9_telemetry_and_clock_change() -> None:
    source = StaticSnapshotSource.for_model("s9")
    with CgminerFace(source, port=0, restart_s=0.3) as face:
        device = open_cgminer(f"{face.url}?{FAST}")
        try:
            assert isinstance(device, CgminerDevice)
            assert device.wait_for_sample(3.0)
            assert device.info.extra["miner_type"] == "Antminer S9"
            assert device.info.extra["chain_slots"] == "6,7,8"
            assert latest(device, "hashrate") == pytest.approx(650 * 114 * 189 / 1000, abs=0.01)
            assert latest(device, "chain_chips", 2) == 63
            assert hottest(device, "chip_temp_max") == 72
            event = device.set_knob("frequency", 700, "MHz")
            assert (event.value, event.requested) == (700.0, 700.0)
            assert source.frequency_mhz == 700 and face.firmware.restarts == 1
            assert wait_for(lambda: latest(device, "frequency") == 700)
            assert any(isinstance(e, ControlEvent) for e in device.events())
        finally:
            device.close()


def test_cgminer_write_refused_without_privilege() -> None:
    face = CgminerFace(StaticSnapshotSource.for_model("s9"), port=0, allow_write=False)
    refused = pytest.raises(CommandRefused, match="Access denied")
    with face, open_cgminer(f"{face.url}?{FAST}") as device, refused:
        device.set_knob("frequency", 600, "MHz")


def test_goldshell_login_telemetry_and_plan() -> None:
    source = StaticSnapshotSource.for_model("lbbox")
    with GoldshellFace(source, port=0) as face:
        device = open_goldshell(f"{face.url}?{FAST}")
        try:
            assert isinstance(device, GoldshellDevice)
            assert device.wait_for_sample(3.0)
            assert device.info.extra["model"] == "Goldshell-LB-Box"
            assert hottest(device, "chip_temp_max") == 83.0
            assert hottest(device, "board_temp") == 73.8
            assert latest(device, "hashrate") == pytest.approx(176.0)
            event = device.set_knob("frequency", 560, "MHz")
            assert (event.value, event.requested) == (550.0, 560.0)
            assert source.frequency_mhz == 550 and source.core_voltage_mv == 775
            assert wait_for(lambda: latest(device, "frequency") == 550)
            with pytest.raises(UnknownKnobError):
                device.set_knob("core_voltage", 760, "mV")
            face.tokens.clear()  # token expired: the backend logs in again
            assert device.wait_for_sample(3.0)
        finally:
            device.close()


def test_goldshell_wrong_password_is_clear() -> None:
    with GoldshellFace(StaticSnapshotSource.for_model("lbbox"), port=0) as face:
        device = open_goldshell(f"{face.url}?{FAST}&password=nope", start=False)
        with pytest.raises(Exception, match="401"):
            device.poll_now()
        device.close()


def test_url_options() -> None:
    device = open_axeos("axeos://127.0.0.1:1?period_s=7&model=s9", start=False)
    assert device.period_s == 7 and device.spec.model == "s9" and device.port == 1
    device.close()
    with pytest.raises(ValueError, match="unknown option"):
        open_cgminer("cgminer://127.0.0.1?bogus=1", start=False)
    with pytest.raises(ValueError):
        open_goldshell("axeos://127.0.0.1", start=False)
    assert open_cgminer("cgminer://127.0.0.1", start=False).port == 4028


def test_face_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AxeOSFace(StaticSnapshotSource(), host="0.0.0.0")
