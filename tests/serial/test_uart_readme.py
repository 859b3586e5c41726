"""The README's serial path, as a user runs it: ``hashrc emulate lv06 --serial`` prints a
pty, ``hashrc capture --device "serial://PTS?chip=bm1366"`` records verified shares from
it (no extra URL option)."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "hashrc"


def test_emulate_serial_then_capture_records_shares(tmp_path: Path) -> None:
    emu = subprocess.Popen([str(BIN), "emulate", "lv06", "--serial", "--duration", "40"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emu.stdout is not None
        line = emu.stdout.readline()  # "PtyUartFace: /dev/pts/N"; bounded by --duration
        assert "PtyUartFace:" in line, (line, emu.stderr.read() if emu.poll() else "")
        pts = line.split(":", 1)[1].strip()
        out = tmp_path / "serial.sqlite"
        t0 = time.monotonic()
        cap = subprocess.run(
            [str(BIN), "capture", "--device", f"serial://{pts}?chip=bm1366",
             "--duration", "5", "--out", str(out)],
            capture_output=True, text=True, timeout=60)
        assert cap.returncode == 0, cap.stderr
        assert time.monotonic() - t0 < 30
    finally:
        emu.terminate()
        emu.communicate(timeout=10)
    with contextlib.closing(sqlite3.connect(f"file:{out}?mode=ro", uri=True)) as db:
        outcomes = dict(db.execute("SELECT outcome, count(*) FROM shares GROUP BY outcome"))
        difficulties = {d for (d,) in db.execute("SELECT DISTINCT difficulty FROM shares")}
        statuses = [s for (s,) in db.execute("SELECT status FROM status")]
    assert outcomes.get("accepted", 0) >= 3, outcomes  # ~2-5 verified nonces/s on a busy host
    assert set(outcomes) == {"accepted"}
    assert difficulties == {2.0**-16}  # the ticket difficulty the driver wrote
    assert "no_valid_nonces" not in statuses
