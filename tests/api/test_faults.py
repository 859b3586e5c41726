"""Timeouts, malformed JSON, dropped connections: clear errors, counters, the poller
goes on and nothing recorded is lost."""

from __future__ import annotations

import time

import pytest

from asic_bridge.api.backends import open_axeos, open_cgminer, open_goldshell
from asic_bridge.api.transport import DeviceTimeout, LinkError
from asic_bridge.capture.store import CaptureWriter, open_capture
from asic_bridge.errors import ProtocolError
from emulator.faces import StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import AxeOSFace

FAST = "period_s=0.05&timeout_s=0.3&retries=1"


def wait_until(check, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("kind", ["axeos", "cgminer", "goldshell"])
def test_malformed_then_recovers(kind: str) -> None:
    faces = {"axeos": (AxeOSFace, "lv06", open_axeos), "cgminer": (CgminerFace, "s9", open_cgminer),
             "goldshell": (GoldshellFace, "lbbox", open_goldshell)}
    face_cls, model, opener = faces[kind]
    with face_cls(StaticSnapshotSource.for_model(model), port=0) as face:
        device = opener(f"{face.url}?{FAST}", start=False)
        try:
            face.faults.malformed = True
            with pytest.raises(ProtocolError, match="JSON"):
                device.poll_now()
            device.start()
            assert wait_until(lambda: device.stats.get("protocol_errors", 0) >= 3)
            assert device.stats.get("samples", 0) == 0
            face.faults.malformed = False
            assert device.wait_for_sample(3.0)
            assert device.stats["samples"] >= 1
        finally:
            device.close()


def test_timeout_counts_retries_and_poller_keeps_going() -> None:
    with AxeOSFace(StaticSnapshotSource(), port=0) as face:
        face.faults.delay_s = 1.0
        device = open_axeos(f"{face.url}?{FAST}", start=False)
        try:
            started = time.monotonic()
            with pytest.raises(DeviceTimeout, match=r"no complete reply within 0\.3 s"):
                device.poll_now()
            assert time.monotonic() - started < 1.5
            assert device.stats["timeouts"] == 2 and device.stats["retries"] == 1
            device.start()
            assert wait_until(lambda: device.stats["poll_failures"] >= 2)
            face.faults.delay_s = 0.0
            assert device.wait_for_sample(3.0)
            assert isinstance(device.last_error, DeviceTimeout)
        finally:
            device.close()


def test_cgminer_timeout_and_dropped_connection() -> None:
    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        device = open_cgminer(f"{face.url}?period_s=0.05&timeout_s=0.3&retries=0", start=False)
        face.faults.delay_s = 1.0
        with pytest.raises(DeviceTimeout):
            device.poll_now()
        face.faults.delay_s = 0.0
        face.faults.drop = True
        with pytest.raises(LinkError, match="closed without a reply"):
            device.poll_now()
        face.faults.drop = False
        assert device.poll_now()
        assert device.stats["timeouts"] == 1 and device.stats["link_errors"] == 1
        device.close()


def test_unreachable_device_is_a_link_error() -> None:
    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        url = face.url
    device = open_cgminer(f"{url}?period_s=0.05&timeout_s=0.3&retries=0", start=False)
    with pytest.raises(LinkError):
        device.poll_now()
    device.close()


def test_nothing_recorded_is_lost_across_faults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, port=0, restart_s=0.2) as face:
        device = open_axeos(f"{face.url}?{FAST}&restart_timeout_s=5")
        written = 0
        with CaptureWriter(tmp_path / "c.sqlite", metadata={"device": "lv06"}) as writer:
            try:
                assert device.wait_for_sample(3.0)
                face.faults.malformed = True
                assert wait_until(lambda: device.stats.get("protocol_errors", 0) >= 2)
                face.faults.malformed = False
                device.set_knob("frequency", 550, "MHz")
                assert device.wait_for_sample(3.0)
            finally:
                device.close()
            for event in device.events():
                writer.write(event)
                written += 1
            samples = device.stats["samples"]
        with open_capture(tmp_path / "c.sqlite") as reader:
            assert reader.count("control") == 1
            failures = reader.count("status")  # every failed poll is in the capture
            assert failures >= 1
            assert reader.count("telemetry") + 1 + failures == written
            per_sample = reader.count("telemetry") / samples
            assert per_sample == int(per_sample)  # whole samples only
