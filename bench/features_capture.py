"""Step features from a capture of one million shares (issue 9).

    .venv/bin/python bench/features_capture.py [--shares 1000000] [--steps 3200]

Writes a capture like an experiment's (one clock change per 1 s step, 1,000,000 accepted
shares over the steps on one chip, 1 Hz telemetry), then times in the same process:
  reference: SQLite alone reading the shares' timestamps (fetchall), the floor any
    reader of the capture pays;
  features: reservoir.features.features_from_capture (every step feature).
Target: features under 1 s.
"""

from __future__ import annotations

import argparse
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


def make_capture(path: Path, shares: int, steps: int) -> None:
    rng = np.random.default_rng(2)
    times = np.sort(rng.uniform(0, steps, shares))
    meta = {"device_model": "lv06", "chip_count": 1, "knobs": ["frequency"], "hold_s": 1.0,
            "steps": steps, "clock": "simulated"}
    with CaptureWriter(path, metadata=meta) as writer:
        for s in range(steps):
            writer.write(ControlEvent(s * NS, "BENCH", "frequency", 400.0 + (s * 7) % 175, "MHz"))
            writer.write(TelemetryEvent(s * NS + 5, "BENCH", "chip_temp", 50.0 + np.sin(s / 30), "degC", 0))
            writer.write(TelemetryEvent(s * NS + 6, "BENCH", "power", 12.0 + np.cos(s / 30), "W"))
        for k, t in enumerate(times):
            writer.write(ShareEvent(int(t * NS), "BENCH", "j", k, 1.0, 2.0, ShareOutcome.ACCEPTED, chip=0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shares", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=3200)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "features.sqlite"
    started = time.perf_counter()
    make_capture(path, args.shares, args.steps)
    print(f"wrote {args.shares:,} shares over {args.steps:,} steps in {time.perf_counter() - started:.1f} s")

    from reservoir.features import features_from_capture

    best_ref = best_features = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with sqlite3.connect(path) as conn:
            conn.execute('SELECT "t_ns" FROM shares ORDER BY id').fetchall()
        best_ref = min(best_ref, time.perf_counter() - started)
        started = time.perf_counter()
        features = features_from_capture(path)
        best_features = min(best_features, time.perf_counter() - started)
    assert features.values.shape[0] == args.steps
    assert features.values[:, features.names.index("share_count")].sum() == args.shares
    print(f"{'best of 3':36s} {'seconds':>8s} {'x SQLite alone':>15s}")
    print(f"{'SQLite alone: share timestamps':36s} {best_ref:8.2f} {1.0:15.2f}")
    ratio = best_features / best_ref
    print(f"{'features_from_capture':36s} {best_features:8.2f} {ratio:15.2f}   target < 1 s")


if __name__ == "__main__":
    main()
