import json
import subprocess
import sys
from pathlib import Path

from asic_bridge.cli import main


def _hashrc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asic_bridge.cli", *args], capture_output=True, text=True, timeout=240
    )


def test_demo_writes_capture_and_report_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _hashrc("demo", "--no-dashboard", "--steps", "500", "--seed", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "input_linear_10" in proc.stdout and "device_shuffled" in proc.stdout
    assert "RMSE / std(test target)" in proc.stdout
    assert "speed ratio" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["device"] == "lv06" and report["encoding"] == "frequency"
    assert report["seed"] == 2 and report["steps"] == 500
    assert (out / "capture.sqlite").exists()

    shown = _hashrc("captures", "show", str(out / "capture.sqlite"))
    assert shown.returncode == 0 and "accepted:" in shown.stdout and "integrity ok" in shown.stdout

    exported = _hashrc("export", str(out / "capture.sqlite"), "--format", "csv", "--out", str(tmp_path / "x"))
    assert exported.returncode == 0
    assert (tmp_path / "x" / "capture.shares.csv").exists()


def test_bad_arguments_give_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "missing.sqlite")]) == 2
    assert "no capture file" in capsys.readouterr().err
    proc = _hashrc("demo", "--device", "antminer-x", "--no-dashboard")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
