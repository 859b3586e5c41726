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
