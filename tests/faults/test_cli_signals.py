"""`hashrc narma` and `hashrc capture` write their captures continuously: SIGKILL keeps
every event committed before it (the store commits at most 0.5 s apart), and Ctrl-C
(SIGINT) keeps what was captured and says how much. Loopback only; every loop bounded
in count and time."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader

TABLES = ("shares", "telemetry", "control", "jobs", "status")
BATCH_S = 0.5  # the store's batch interval


def _committed(path: Path) -> int:
    """Events a reader sees committed now (0 while the file does not exist yet)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            present = [t for t in TABLES if t in names]
            return sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in present)
    except sqlite3.Error:
        return 0


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "asic_bridge.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_rows(proc: subprocess.Popen, path: Path, minimum: int, timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.1) + 1):
        n = _committed(path)
        if n >= minimum:
            return n
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    proc.kill()
    _, err = proc.communicate(timeout=10)
    pytest.fail(f"no {minimum} rows in {path} within {timeout_s} s: {err[-2000:]}")


def _total(path: Path) -> int:
    with CaptureReader(path) as reader:
        assert reader.integrity_ok()
        return sum(reader.count(t) for t in TABLES)


NARMA = ("narma", "--device", "lv06", "--steps", "20000", "--hold-s", "1")
CAPTURE = ("capture", "--device", "emu://lv06", "--duration", "1000000")


@pytest.mark.parametrize("command", [NARMA, CAPTURE], ids=["narma", "capture"])
def test_sigkill_keeps_every_event_committed_before_it(tmp_path: Path, command: tuple[str, ...]) -> None:
    if command[0] == "narma":
        path, args = tmp_path / "run" / "capture.sqlite", (*command, "--out", str(tmp_path / "run"))
    else:
        path, args = tmp_path / "c.sqlite", (*command, "--out", str(tmp_path / "c.sqlite"))
    proc = _start(*args)
    try:
        first = _wait_for_rows(proc, path, 1)
        time.sleep(4 * BATCH_S)
        seen = _committed(path)  # what was recorded more than a batch interval before the kill
        assert seen > first, "the capture grows while the command runs (written continuously)"
        time.sleep(2 * BATCH_S)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _total(path) >= seen


@pytest.mark.parametrize("command", [NARMA, CAPTURE], ids=["narma", "capture"])
def test_ctrl_c_keeps_the_capture_and_says_how_much(tmp_path: Path, command: tuple[str, ...]) -> None:
    if command[0] == "narma":
        path, args = tmp_path / "run" / "capture.sqlite", (*command, "--out", str(tmp_path / "run"))
    else:
        path, args = tmp_path / "c.sqlite", (*command, "--out", str(tmp_path / "c.sqlite"))
    proc = _start(*args)
    try:
        _wait_for_rows(proc, path, 1)
        time.sleep(2 * BATCH_S)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    said = re.search(r"kept (\d+) events (?:from \S+ )?in (\S+)", out + err)
    assert said, out + err
    assert Path(said.group(2).rstrip(";")) == path
    assert _total(path) == int(said.group(1)) > 0
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [NARMA, ("demo", "--no-dashboard", *NARMA[3:])], ids=["narma", "demo"])
def test_sigterm_stops_like_ctrl_c(tmp_path: Path, command: tuple[str, ...]) -> None:
    """SIGTERM (a service manager, `kill`) keeps what was captured, says how much, exit 130."""
    path = tmp_path / "run" / "capture.sqlite"
    proc = _start(*command, "--out", str(tmp_path / "run"))
    try:
        _wait_for_rows(proc, path, 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    said = re.search(r"kept (\d+) events (?:from \S+ )?in (\S+)", out + err)
    assert said and Path(said.group(2).rstrip(";")) == path, out + err
    assert _total(path) == int(said.group(1)) > 0 and "Traceback" not in err
