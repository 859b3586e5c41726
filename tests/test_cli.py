import json
import subprocess
import sys
from pathlib import Path

import pytest

from asic_bridge.cli import main


def _hashrc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asic_bridge.cli", *args], capture_output=True, text=True, timeout=240
    )


def test_demo_writes_capture_and_report_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _hashrc("demo", "--no-dashboard", "--steps", "500", "--seed", "2", "--seeds", "3",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("input_quadratic_30", "input_leaky", "device_shifted", "device_other_run",
                 "device_disconnected", "esn_equal", "p (Holm)", "95 % interval", "device - control"):
        assert name in proc.stdout, name
    for task in ("narma10", "narma20", "mc", "xor"):
        assert f"verdict {task}: " in proc.stdout and f"\n{task}: " in proc.stdout
    assert "Margin to best input-only" in proc.stdout and "to equal-size ESN" in proc.stdout
    assert "out of reach: use at least 9 runs" in proc.stdout  # 3 seeds cannot give a verdict
    assert "RMSE / std(test target)" in proc.stdout
    assert "speed ratio" in proc.stdout
    assert "control path: frequency via simulation" in proc.stdout
    # the header comes first, then the progress line on stderr (tqdm)
    assert proc.stdout.startswith("hashrc narma: NARMA-10, NARMA-20, MC and XOR on lv06")
    assert "step/s" in proc.stderr
    header = proc.stdout.splitlines()[1]
    assert header.startswith("device lv06 (emu://lv06?seed=2, simulated clock), frequency encoding, "
                             "protocol recommended, 500 steps x 1 s, seeds [2, 3, 4] x serials")
    report = json.loads((out / "report.json").read_text())
    assert report["device"] == "lv06" and report["encoding"] == "frequency"
    assert report["device_url"] == "emu://lv06?seed=2"
    assert report["control_path"] == {"frequency": "simulation"}
    assert report["seed"] == 2 and report["steps"] == 500
    assert (out / "capture.sqlite").exists() and (out / "report.md").exists()
    assert (out / "replicates" / "capture-seed-2-disconnected.sqlite").exists()

    shown = _hashrc("captures", "show", str(out / "capture.sqlite"))
    assert shown.returncode == 0 and "accepted:" in shown.stdout and "integrity ok" in shown.stdout

    exported = _hashrc("export", str(out / "capture.sqlite"), "--format", "csv", "--out", str(tmp_path / "x"))
    assert exported.returncode == 0
    assert (tmp_path / "x" / "capture.shares.csv").exists()

    # one overwrite policy: a second run into the same place is refused, naming --overwrite
    again = _hashrc("demo", "--no-dashboard", "--steps", "500", "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr
    assert json.loads((out / "report.json").read_text())["seed"] == 2  # untouched
    exported = _hashrc("export", str(out / "capture.sqlite"), "--format", "csv", "--out", str(tmp_path / "x"))
    assert exported.returncode == 2 and "--overwrite" in exported.stderr
    exported = _hashrc("export", str(out / "capture.sqlite"), "--format", "csv", "--out", str(tmp_path / "x"),
                       "--overwrite")
    assert exported.returncode == 0

    # the run is re-analysed from its captures alone: the same scores
    again = _hashrc("narma", "--device", str(out / "capture.sqlite"), "--out", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr
    redone = json.loads((tmp_path / "re" / "report.json").read_text())
    for task in report["results"]:
        assert ([r["per_run"] for r in redone["results"][task]["rows"]]
                == [r["per_run"] for r in report["results"][task]["rows"]])
    assert redone["disconnected_captures"] == [f"../run/replicates/capture-seed-{s}-disconnected.sqlite"
                                               for s in (2, 3, 4)]


def test_bad_arguments_give_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "missing.sqlite")]) == 2
    assert "no capture file" in capsys.readouterr().err
    proc = _hashrc("demo", "--device", "antminer-x", "--no-dashboard", "--out", str(tmp_path / "d"))
    assert proc.returncode == 2 and "unknown device 'antminer-x'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "d").exists()


def _fails(capsys, *argv: str) -> str:
    """Run hashrc in-process; it must exit 2 with one line on stderr, no traceback."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_capture_errors_are_one_line_and_leave_no_file(tmp_path: Path, capsys) -> None:
    import socket

    emu = ("capture", "--device", "emu://lv06", "--duration", "1", "--out")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = tmp_path / "c.sqlite"
        err = _fails(capsys, *emu, str(out), "--stratum", f"127.0.0.1:{port}")
        assert "already in use" in err and f"127.0.0.1:{port}" in err
        assert not out.exists() and not (tmp_path / "c.sqlite-wal").exists()

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "is a file" in _fails(capsys, *emu, str(blocker / "c.sqlite"))

    existing = tmp_path / "old.sqlite"
    existing.write_text("keep me")
    assert "--overwrite" in _fails(capsys, *emu, str(existing))
    assert existing.read_text() == "keep me"

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    out = tmp_path / "dead.sqlite"
    _fails(capsys, "capture", "--device", f"axeos://127.0.0.1:{dead}", "--duration", "1", "--out", str(out))
    assert not out.exists()

    out = tmp_path / "mqtt.sqlite"  # fails after the capture was created: it is removed again
    assert "unreachable" in _fails(capsys, *emu, str(out), "--mqtt", f"127.0.0.1:{dead}")
    assert not out.exists() and not (tmp_path / "mqtt.sqlite-wal").exists()

    with pytest.raises(SystemExit) as exit_info:  # argparse: the port's range
        main([*emu, str(tmp_path / "p"), "--stratum", "127.0.0.1:99999"])
    assert exit_info.value.code == 2 and "65535" in capsys.readouterr().err


def test_capture_of_a_simulated_device_prints_header_then_progress(tmp_path: Path) -> None:
    out = tmp_path / "c.sqlite"
    proc = _hashrc("capture", "--device", "emu://lv06", "--duration", "600", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("hashrc capture: recording emu://lv06 for 600 s")
    assert "events from" in proc.stdout.splitlines()[-1]


# model, face, URL scheme, hold s, shares per step (the live LB-Box's CPU-bound LBRY hashing
# returns only a few shares per second even at the difficulty floor)
LIVE = [("lv06", "--http", "axeos", 0.25, 1.5), ("s9", "--cgminer", "cgminer", 0.25, 1.5),
        ("lbbox", "--http", "goldshell", 0.5, 1.0)]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "face", "scheme", "hold_s", "target"), LIVE, ids=[m[0] for m in LIVE])
def test_narma_on_the_live_faces_matches_the_simulated_feature_names(
    tmp_path: Path, model: str, face: str, scheme: str, hold_s: float, target: float
) -> None:
    """The experiment in wall time through the faces: shares through the pool the device
    owns (difficulty via the pool), calibrated to the target share count; the same report
    schema and feature names as on emu://."""
    api, pool = _free_port(), _free_port()
    emulate = subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "emulate", model, face, f"127.0.0.1:{api}",
         "--stratum", f"127.0.0.1:{pool}", "--duration", "120"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        common = ("--encoding", "difficulty", "--steps", "40", "--hold-s", str(hold_s), "--seeds", "1",
                  "--pilot", "--shares-per-step", str(target))
        live = _hashrc("narma", "--device", f"{scheme}://127.0.0.1:{api}?stratum=127.0.0.1:{pool}",
                       *common, "--out", str(tmp_path / "live"))
    finally:
        emulate.terminate()
        emulate.wait(timeout=30)
    assert live.returncode == 0, live.stderr[-2000:]
    assert "control path: difficulty via pool" in live.stdout and "PILOT RUN" in live.stdout
    simulated = _hashrc("narma", "--device", model, *common, "--out", str(tmp_path / "emu"))
    assert simulated.returncode == 0, simulated.stderr[-2000:]
    a = json.loads((tmp_path / "live" / "report.json").read_text())
    b = json.loads((tmp_path / "emu" / "report.json").read_text())
    assert a["feature_names"] == b["feature_names"]
    assert set(a) == set(b) and a["clock"] == "wall" and b["clock"] == "simulated"
    from reservoir.features import features_from_capture

    counts = features_from_capture(tmp_path / "live" / "capture.sqlite")
    shares = counts.values[:, counts.names.index("share_count")]
    assert a["calibration"][0]["shares"] >= 30
    assert 0.4 * target <= shares.mean() <= 2.0 * target, shares.mean()  # the calibrated target
