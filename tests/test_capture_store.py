import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader, CaptureWriter
from asic_bridge.capture.export import export_capture
from asic_bridge.errors import CaptureError
from asic_bridge.events import (
    ControlEvent,
    JobEvent,
    ShareEvent,
    ShareOutcome,
    StatusEvent,
    TelemetryEvent,
    TimestampSource,
)


def _share(i: int) -> ShareEvent:
    return ShareEvent(
        t_ns=1_000 * i, device="dev", job_id=f"{i:x}", nonce=i, difficulty=0.5,
        share_difficulty=2.5, outcome=ShareOutcome.ACCEPTED, chip=i % 3, core=i % 7,
        version_bits=0x2000, t_source=TimestampSource.KERNEL, t_parse_mono_ns=5,
    )


def test_roundtrip_of_every_event_type(tmp_path: Path) -> None:
    events = [
        _share(1),
        TelemetryEvent(2, "dev", "chip_temp", 55.5, "degC", index=None),
        ControlEvent(3, "dev", "frequency", 487.5, "MHz", requested=490.0),
        JobEvent(4, "dev", "j1", 0.5, clean=True),
        StatusEvent(5, "dev", "poll_failed", "timeout after 3 s", count=2),
    ]
    path = tmp_path / "c.sqlite"
    with CaptureWriter(path, metadata={"seed": 3, "device_model": "lv06"}) as writer:
        writer.write_many(events)
        writer.set_metadata("note", {"a": 1})
    with CaptureReader(path) as reader:
        assert reader.integrity_ok()
        meta = reader.metadata()
        assert meta["seed"] == 3 and meta["note"] == {"a": 1} and meta["schema_version"] == 2
        got = [*reader.events("shares"), *reader.events("telemetry"),
               *reader.events("control"), *reader.events("jobs"), *reader.events("status")]
    assert got == events
    mode = __import__("sqlite3").connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_existing_file_is_not_overwritten_by_default(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CaptureWriter(path, metadata={}).close()
    with pytest.raises(CaptureError, match="exists"):
        CaptureWriter(path, metadata={})


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(CaptureError):
        CaptureReader(path)


def test_batches_are_committed_without_flush(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = CaptureWriter(path, metadata={}, batch_interval_s=0.2)
    try:
        writer.write(_share(1))
        deadline = time.monotonic() + 3
        while writer.committed < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.committed == 1
        with CaptureReader(path) as reader:  # another connection sees it: committed
            assert reader.count("shares") == 1
    finally:
        writer.close()


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from asic_bridge.capture import CaptureWriter
    from asic_bridge.events import ShareEvent, ShareOutcome

    def report(total):
        print(total, flush=True)

    writer = CaptureWriter(sys.argv[1], metadata={"seed": 1}, batch_interval_s=0.1,
                           on_commit=report)
    i = 0
    while True:  # bounded by the parent's SIGKILL; the parent also times out
        writer.write(ShareEvent(i, "dev", "j", i, 1.0, 1.0, ShareOutcome.ACCEPTED))
        i += 1
        if i % 200 == 0:
            time.sleep(0.01)
    """
)


def test_capture_survives_sigkill_mid_capture(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
    )
    last_committed = 0
    commits = 0
    deadline = time.monotonic() + 30
    try:
        while commits < 5 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last_committed = int(line)
            commits += 1
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert commits == 5 and last_committed > 0
    with CaptureReader(path) as reader:
        assert reader.integrity_ok()
        n = reader.count("shares")
        assert n >= last_committed
        nonces = [row[reader.columns("shares").index("nonce")] for row in reader.rows("shares")]
    assert nonces == list(range(n))  # every event up to the last batch, in order, no gaps


def test_export_parquet_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with CaptureWriter(path, metadata={"seed": 1}) as writer:
        writer.write_many(_share(i) for i in range(10))
    import pandas as pd

    for fmt in ("parquet", "csv"):
        written = export_capture(path, fmt, tmp_path / fmt)
        shares = next(p for p in written if p.name == f"c.shares.{fmt}")
        frame = pd.read_parquet(shares) if fmt == "parquet" else pd.read_csv(shares)
        assert len(frame) == 10 and list(frame["nonce"]) == list(range(10))
        assert set(frame["outcome"]) == {"accepted"}
    with pytest.raises(ValueError):
        export_capture(path, "xlsx")


def test_a_schema_version_1_capture_reads_as_version_2(tmp_path: Path) -> None:
    """Captures written before the event kinds had one name (table ``controls``, telemetry
    column ``chip``) still open: their rows come back under the current names."""
    import sqlite3

    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO metadata VALUES ('schema_version', '1')")
        conn.execute("CREATE TABLE controls (id INTEGER PRIMARY KEY, t_ns INTEGER, device TEXT, knob TEXT, "
                     "value REAL, unit TEXT, requested REAL)")
        conn.execute("INSERT INTO controls VALUES (1, 5, 'd', 'frequency', 500.0, 'MHz', 500.0)")
        conn.execute("CREATE TABLE telemetry (id INTEGER PRIMARY KEY, t_ns INTEGER, device TEXT, "
                     "quantity TEXT, value REAL, unit TEXT, chip INTEGER)")
        conn.execute("INSERT INTO telemetry VALUES (1, 6, 'd', 'chip_temp', 55.0, 'degC', 2)")
    with CaptureReader(path) as reader:
        assert list(reader.events("control")) == [ControlEvent(5, "d", "frequency", 500.0, "MHz", 500.0)]
        assert list(reader.events("telemetry")) == [TelemetryEvent(6, "d", "chip_temp", 55.0, "degC", 2)]
        assert reader.frame("telemetry", ["index"])["index"].tolist() == [2]
        assert reader.count("status") == 0 and list(reader.events("status")) == []
