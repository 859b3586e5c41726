"""How fast the dashboard opens a capture of one million shares.

    .venv/bin/python bench/dashboard_capture.py [--shares 1000000]

Writes a capture (1 M accepted shares over 1 h on 3 chips, 1 Hz telemetry, one control
change per second), then times in the same process:
  reference: SQLite alone reading the shares table's columns the page uses (fetchall);
  load: dashboard.data.load_capture (everything the Captures page draws);
  page: the Captures page run end to end through Streamlit's AppTest (cold cache).
Target: page under 3 s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asic_bridge.capture import CaptureWriter
from asic_bridge.events import ControlEvent, ShareEvent, ShareOutcome, TelemetryEvent

NS = 1_000_000_000


def make_capture(path: Path, shares: int, seconds: int = 3600) -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, seconds, shares))
    with CaptureWriter(path, metadata={"device_model": "s9", "device_serial": "BENCH", "clock": "wall",
                                       "chip_count": 3}) as writer:
        for k, t in enumerate(times):
            writer.write(ShareEvent(int(t * NS), "BENCH", "j", k, 1.0, 2.0, ShareOutcome.ACCEPTED,
                                    chip=k % 3))
        for s in range(seconds):
            writer.write(TelemetryEvent(s * NS, "BENCH", "chip_temp", 80.0 + np.sin(s / 60), "degC", index=0))
            writer.write(ControlEvent(s * NS, "BENCH", "frequency", 600.0 + s % 50, "MHz"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shares", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    path = folder / "big.sqlite"
    started = time.perf_counter()
    make_capture(path, args.shares)
    print(f"wrote {args.shares:,} shares in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        rows = conn.execute('SELECT "t_ns", "outcome", "chip", "difficulty" FROM shares ORDER BY id'
                            ).fetchall()
    reference = time.perf_counter() - started
    del rows

    from dashboard.data import load_capture

    started = time.perf_counter()
    load_capture(path)
    load = time.perf_counter() - started

    from streamlit.testing.v1 import AppTest

    os.environ["HASHRC_CAPTURES"] = str(folder)
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=120).run()
    started = time.perf_counter()
    at.switch_page("views/captures.py").run()
    page = time.perf_counter() - started
    assert not at.exception, at.exception

    print(f"{'':32s} {'seconds':>8s} {'x SQLite alone':>15s}")
    print(f"{'SQLite alone (reference)':32s} {reference:8.2f} {1.0:15.2f}")
    print(f"{'load_capture':32s} {load:8.2f} {load / reference:15.2f}")
    print(f"{'Captures page (AppTest, cold)':32s} {page:8.2f} {page / reference:15.2f}   target < 3 s")


if __name__ == "__main__":
    main()
