"""The pool inside a device (``?stratum=``), bad input first: a port in use, a miner that
never connects, an unknown option: each a clear error within its timeout, never a hang.
Then: only the device's miner is recorded (first authorised user, or ``worker``), under
the device's identity. In-process faces and miners on loopback; every loop bounded."""

from __future__ import annotations

import socket
import time

import pytest

from asic_bridge.device import open_device
from asic_bridge.errors import (
    DeviceTimeout,
    MinerNotConnected,
    PoolError,
    UnknownKnobError,
    UrlError,
)
from asic_bridge.events import ControlEvent, JobEvent, ShareEvent
from asic_bridge.miner_pool import MinerPool
from emulator.faces import StaticSnapshotSource
from emulator.faces.http_api import AxeOSFace


def test_a_stratum_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken, AxeOSFace(StaticSnapshotSource(), port=0) as face:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PoolError, match=rf"cannot listen for the miner on 127\.0\.0\.1:{port}.*in use"):
            open_device(f"{face.url}?stratum=127.0.0.1:{port}&connect_timeout_s=5")
        assert time.monotonic() - started < 3.0


def test_a_miner_that_never_connects_is_a_clear_timeout() -> None:
    with AxeOSFace(StaticSnapshotSource(), port=0) as face:
        started = time.monotonic()
        with pytest.raises(MinerNotConnected, match=r"did not connect.*within 0\.5 s") as info:
            open_device(f"{face.url}?stratum=127.0.0.1:0&connect_timeout_s=0.5&period_s=0.2")
        assert isinstance(info.value, TimeoutError) and isinstance(info.value, DeviceTimeout)
        assert time.monotonic() - started < 3.0
        assert "stratum+tcp://127.0.0.1:" in str(info.value)


def test_difficulty_needs_the_pool_and_pool_options_are_checked() -> None:
    with AxeOSFace(StaticSnapshotSource(), port=0) as face, \
            open_device(f"{face.url}?period_s=0.2") as device:
        with pytest.raises(UnknownKnobError, match=r"\?stratum="):
            device.set_knob("difficulty", 1e-3, "1")
        assert device.control_path("frequency") == "management API"
        assert device.settle_time_s("frequency") == device.restart_settle_s > 0
        assert device.settle_time_s("fan") == 0.0
    with pytest.raises(UrlError, match="stratum"):
        open_device("axeos://127.0.0.1:1?stratum=127.0.0.1:99999")
    with pytest.raises(UrlError, match="point_miner=1 needs"):
        open_device("axeos://127.0.0.1:1?point_miner=1", start=False)


def test_only_the_devices_miner_is_recorded_under_the_devices_identity() -> None:
    """Two miners on one device's pool: with ``worker`` only that one's shares and jobs
    enter the stream, relabelled with the device id; one control event per change."""
    from emulator.stratum_miner import MinerFarmThread, StratumMinerFarm

    events: list[object] = []
    pool = MinerPool(("127.0.0.1", 0), device_id="axeos://miner-b", sink=events.append,
                     difficulty=2e-5, worker="hashrc.LV06-EMU-0002").start()
    try:
        farm = StratumMinerFarm("lv06", *pool.address, count=2, workers=1)
        with MinerFarmThread(farm):
            assert pool.wait_for_miner(20.0) == "hashrc.LV06-EMU-0002"
            assert pool.set_difficulty(1e-5) == 1e-5
            deadline = time.monotonic() + 15.0  # generous: a loaded host hashes slowly
            while time.monotonic() < deadline and not any(isinstance(e, ShareEvent) for e in events):
                time.sleep(0.1)
            stats = farm.stats()
    finally:
        pool.close()
    mine = [e for e in events if isinstance(e, ShareEvent | JobEvent)]
    assert any(isinstance(e, ShareEvent) for e in mine), stats
    assert {e.device for e in mine} == {"axeos://miner-b"}
    assert not any(isinstance(e, ControlEvent) for e in events)  # the device records it once
    other, ours = stats.miners
    assert other.difficulty == 2e-5 and ours.difficulty == 1e-5  # set on its miner only
    assert pool.foreign_events > 0  # the other miner's jobs and shares, not recorded


def test_point_miner_is_explicit_and_patches_the_pool_address() -> None:
    """Without ``point_miner=1`` the miner's settings are never touched; with it, AxeOS
    gets stratumURL/stratumPort of our pool and a restart."""
    with AxeOSFace(StaticSnapshotSource(), port=0, restart_s=0.05) as face:
        before = dict(face.settings)
        with pytest.raises(MinerNotConnected):
            open_device(f"{face.url}?stratum=127.0.0.1:0&connect_timeout_s=0.3")
        assert face.settings == before and face.firmware.restarts == 0
        with pytest.raises(MinerNotConnected, match=r"127\.0\.0\.1:(\d+)") as info:
            open_device(f"{face.url}?stratum=127.0.0.1:0&connect_timeout_s=0.3&point_miner=1")
        port = int(str(info.value).rpartition("stratum+tcp://127.0.0.1:")[2].split()[0].strip(" ;()"))
        assert face.settings["stratumURL"] == "127.0.0.1"
        assert face.settings["stratumPort"] == port
        assert face.firmware.restarts == 1


def test_the_miner_retries_its_pool_until_it_answers(caplog: pytest.LogCaptureFixture) -> None:
    """Like firmware, an emulated miner whose pool is not up yet keeps retrying (with a
    bounded backoff), so the device can be opened after the miner started."""
    import logging

    from emulator.stratum_miner import MinerFarmThread, StratumMinerFarm

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="hashrc.emulator.stratum")
    farm = StratumMinerFarm("lv06", "127.0.0.1", port, workers=1, reconnect_min_s=0.1,
                            reconnect_max_s=0.4)
    thread = MinerFarmThread(farm)
    with thread:
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and sum(
                "cannot connect" in r.getMessage() for r in caplog.records) < 3:
            time.sleep(0.1)
        refused = sum("cannot connect" in r.getMessage() for r in caplog.records)
        assert refused >= 3 and farm.stats().miners[0].connects == 0
        pool = MinerPool(("127.0.0.1", port), device_id="axeos://late", sink=lambda e: None,
                         difficulty=1e-4).start()
        try:
            assert pool.wait_for_miner(10.0) == "hashrc.LV06-EMU-0001"
        finally:
            pool.close()
        # the miner is retrying again: closing must still stop it at once (a cancel
        # swallowed by asyncio.wait_for once hung here for the 30 s join timeout)
        started = time.monotonic()
        thread.close()
        assert time.monotonic() - started < 10.0
