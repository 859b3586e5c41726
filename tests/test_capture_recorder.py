"""`hashrc capture`'s recorder against an emulated LV06 behind its AxeOS face."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader
from asic_bridge.capture.recorder import record
from asic_bridge.capture.schedule import load_schedule
from asic_bridge.errors import EnvelopeError
from emulator.faces.http_api import AxeOSFace
from emulator.live import LiveEmulator


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    """The live miner's hashing processes need multiprocessing's one resource tracker per
    interpreter; start it before the per-test leak check looks."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def test_record_telemetry_and_scheduled_clock_change(tmp_path: Path) -> None:
    schedule_file = tmp_path / "s.json"
    schedule_file.write_text(json.dumps([{"t_s": 0.5, "knob": "frequency", "value": 525, "unit": "MHz"}]))
    with LiveEmulator("lv06", seed=1, warm_up_s=300) as live, AxeOSFace(live, restart_s=0.2) as face:
        face.start()
        out = tmp_path / "cap.sqlite"
        summary = record(f"{face.url}?period_s=0.25", out, duration_s=3.0,
                         schedule=load_schedule(schedule_file))
        assert abs(live.frequency_mhz(0) - 525) < 3
    assert summary["events"] > 10
    with CaptureReader(out) as reader:
        meta = reader.metadata()
        assert meta["device_model"] == "lv06" and meta["clock"] == "wall"
        controls = list(reader.events("control"))
        assert [c.knob for c in controls] == ["frequency"]
        quantities = {t.quantity for t in reader.events("telemetry")}
        assert {"chip_temp", "power", "hashrate"} <= quantities


def test_schedule_outside_the_envelope_is_refused_before_recording(tmp_path: Path) -> None:
    schedule_file = tmp_path / "s.csv"
    schedule_file.write_text("t_s,knob,value,unit\n0.2,frequency,900,MHz\n")
    with LiveEmulator("lv06", seed=1, warm_up_s=0) as live, AxeOSFace(live, restart_s=0.1) as face:
        face.start()
        out = tmp_path / "cap.sqlite"
        with pytest.raises(EnvelopeError):
            record(f"{face.url}?period_s=0.1", out, duration_s=2.0,
                   schedule=load_schedule(schedule_file))
        assert live.frequency_mhz(0) == 485.0
    assert not out.exists()


@pytest.mark.parametrize("content", ['{"t_s": 1}', '[{"t_s": 1, "knob": "warp", "value": 1, "unit": "1"}]',
                                     '[{"t_s": -1, "knob": "fan", "value": 1, "unit": "%"}]', "not json"])
def test_bad_schedules_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_schedule(path)


def test_a_schedule_capture_is_analysed_step_by_step(tmp_path: Path) -> None:
    from reservoir.features import features_from_capture

    rows = [{"t_s": k, "knob": "frequency", "value": 400 + 25 * (k % 7), "unit": "MHz"} for k in range(60)]
    schedule_file = tmp_path / "s.json"
    schedule_file.write_text(json.dumps(rows))
    out = tmp_path / "sched.sqlite"
    record("emu://lv06?seed=3", out, duration_s=61.0, schedule=load_schedule(schedule_file))
    with CaptureReader(out) as reader:
        meta = reader.metadata()
    assert meta["knobs"] == ["frequency"] and meta["control_path"] == {"frequency": "simulation"}
    assert meta["hold_s"] is None and len(meta["schedule"]) == 60 and meta["task"] == "capture"
    features = features_from_capture(out)
    assert features.values.shape[0] == 60
    assert "share_count" in features.names and "chip_temp[0]" in features.names  # chip 0
    assert features.values[:, features.names.index("share_count")].sum() > 0


def test_a_scheduled_difficulty_change_is_recorded_once_for_the_device(tmp_path: Path) -> None:
    import socket

    from emulator.stratum_miner import MinerFarmThread, StratumMinerFarm

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    schedule_file = tmp_path / "s.json"
    schedule_file.write_text(json.dumps([{"t_s": 2.0, "knob": "difficulty", "value": 2e-6, "unit": "1"}]))
    out = tmp_path / "cap.sqlite"
    with LiveEmulator("lv06", seed=1, warm_up_s=0) as live, AxeOSFace(live, restart_s=0.1) as face:
        face.start()
        farm = StratumMinerFarm("lv06", "127.0.0.1", port, count=1, workers=1, hashrate_scale=1e-7)
        with MinerFarmThread(farm):
            record(f"{face.url}?period_s=0.25", out, duration_s=3.5, stratum_listen=("127.0.0.1", port),
                   difficulty=1e-6, schedule=load_schedule(schedule_file))
    with CaptureReader(out) as reader:
        meta = reader.metadata()
        controls = [c for c in reader.events("control") if c.knob == "difficulty"]
        sessions = {s.device for s in reader.events("shares")}
    assert meta["control_path"] == {"difficulty": "pool"}
    assert len(controls) == 1 and controls[0].value == 2e-6  # not once more per session
    assert controls[0].device == meta["device_id"]
    assert sessions, "the miner's shares were recorded (its session was open when the change came)"
