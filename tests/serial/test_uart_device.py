"""The serial:// Device backend over the emulated chain (socket:// and a pty)."""

from __future__ import annotations

import pytest
from uart_helpers import face_config, physics_for, wait_for

from asic_bridge import device as device_mod
from asic_bridge import telemetry_schema
from asic_bridge.errors import EnvelopeError, UnknownKnobError
from asic_bridge.events import ControlEvent, JobEvent, ShareEvent
from asic_bridge.serial.driver import SerialDevice, open_url, parse_url
from emulator.faces.uart import PtyUartFace, TcpUartFace


def test_parse_url() -> None:
    assert parse_url("serial:///dev/ttyUSB0?chip=bm1366&baud=115200") == (
        "/dev/ttyUSB0", {"chip": "bm1366", "baud": 115200})
    assert parse_url("serial://socket://127.0.0.1:5000?ticket_difficulty=2") == (
        "socket://127.0.0.1:5000", {"ticket_difficulty": 2.0})
    assert parse_url("serial://loop://") == ("loop://", {})
    with pytest.raises(ValueError, match="unknown option"):
        parse_url("serial:///dev/ttyUSB0?bogus=1")
    with pytest.raises(ValueError):
        parse_url("emu://lv06")
    with pytest.raises(ValueError, match="verifies every nonce at the ticket difficulty"):
        parse_url("serial:///dev/ttyUSB0?verify_difficulty=1e-5")


def _collect(dev: SerialDevice, into: list) -> int:
    into.extend(dev.events())
    return sum(isinstance(e, ShareEvent) for e in into)


@pytest.mark.parametrize("kind", ["pty", "tcp"])
def test_device_backend_end_to_end(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    physics = physics_for(5.0)
    cfg = face_config(seed=9)
    face = (PtyUartFace if kind == "pty" else TcpUartFace)(physics, cfg).start()
    port = face.path if kind == "pty" else face.url  # type: ignore[attr-defined]
    monkeypatch.setitem(device_mod.BACKENDS, "serial", "asic_bridge.serial.driver:open_url")
    url = f"serial://{port}?chip=bm1366&job_interval_s=0.5"
    try:
        with device_mod.open_device(url) as dev:
            assert isinstance(dev, SerialDevice) and dev.spec.model == "lv06"
            ev = dev.set_knob("frequency", 512.3, "MHz")
            assert isinstance(ev, ControlEvent) and ev.requested == 512.3
            assert abs(ev.value - 512.3) < 2.0
            assert wait_for(lambda: physics.frequency_mhz(0) == ev.value)
            with pytest.raises(EnvelopeError):
                dev.set_knob("frequency", 800.0, "MHz")
            with pytest.raises(UnknownKnobError):
                dev.set_knob("core_voltage", 1200.0, "mV")
            got: list = []
            assert wait_for(lambda: _collect(dev, got) >= 5, 10.0)
            assert any(isinstance(e, JobEvent) for e in got)
            tele = {t.quantity: t.value for t in dev.read_telemetry()}
            assert tele == {"frequency": ev.value, "hw_errors": 0.0}
            for t in dev.read_telemetry():  # the one telemetry schema
                telemetry_schema.check(t.quantity, t.unit, t.index)
            assert dev.stats["uart_shares"] >= 5
    finally:
        face.close()


def test_device_refuses_when_nothing_answers() -> None:
    from asic_bridge.errors import DeviceError

    with pytest.raises(DeviceError, match="no BM1366 answered"):
        open_url("serial://loop://")


def test_unreachable_port_names_the_url_and_the_cause() -> None:
    from asic_bridge.errors import DeviceUnreachable

    with pytest.raises(DeviceUnreachable, match=r"/dev/hashrc-no-such-port.*No such file"):
        device_mod.open_device("serial:///dev/hashrc-no-such-port?chip=bm1366")
    with pytest.raises(DeviceUnreachable, match=r"no BM1366 answered on loop://.*baud \(115200\)"):
        device_mod.open_device("serial://loop://?chip=bm1366")
