"""A captures folder as the dashboard finds it: a reservoir report with its capture, an
energy-filter report, and a capture made by a pool (no report)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asic_bridge.capture import CaptureWriter
from asic_bridge.events import ControlEvent, ShareEvent, ShareOutcome, TelemetryEvent

NS = 1_000_000_000


def write_capture(path: Path, *, seconds: int = 300, rate_per_s: float = 2.0, seed: int = 0,
                  chips: int = 1, steps: int = 300) -> dict[str, float]:
    """A capture like a device's: Poisson shares, a 53 degC chip warming slowly, one
    frequency change per step. Returns what a page should show about it."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate_per_s, size=int(seconds * rate_per_s * 1.5))
    times = np.cumsum(gaps)
    times = times[times < seconds]
    u = rng.uniform(0, 0.5, size=steps)
    with CaptureWriter(path, metadata={"device_model": "lv06", "device_serial": "LV06-TEST",
                                       "clock": "simulated", "chip_count": chips,
                                       "input_u": u.round(6).tolist()}) as writer:
        for k, t in enumerate(times):
            writer.write(ShareEvent(int(t * NS), "LV06-TEST", "j1", k, 0.001, 0.002,
                                    ShareOutcome.ACCEPTED, chip=k % chips))
        for s in range(seconds):
            writer.write(TelemetryEvent(s * NS, "LV06-TEST", "chip_temp", 53.0 + 0.01 * s, "degC", index=0))
            writer.write(TelemetryEvent(s * NS, "LV06-TEST", "power", 13.0 + 0.1 * np.sin(s), "W"))
        for s in range(steps):
            writer.write(ControlEvent(int(s * seconds / steps * NS), "LV06-TEST", "frequency",
                                      400.0 + 350.0 * u[s], "MHz"))
    return {"shares": float(len(times)), "seconds": float(seconds)}


def reservoir_report() -> dict:
    names = ["device", "mean", "input_linear_10", "device_shuffled"]
    nrmse = [0.9521, 1.0113, 0.5884, 1.0121]
    return {
        "kind": "narma", "task": "narma10", "device": "lv06", "encoding": "frequency", "steps": 300,
        "hold_s": 1.0, "seeds": [0, 1, 2], "interval": "95 % Student-t interval over 3 seeds",
        "nrmse_normalisation": "std",
        "results": [{"name": n, "nrmse": v, "nrmse_ci": [v - 0.01, v + 0.01], "per_seed": [v] * 3,
                     "description": f"the {n} readout"} for n, v in zip(names, nrmse, strict=True)],
        "verdict": {"device_beats_input_linear_10": False, "device_beats_device_shuffled": True,
                    "computes": False, "rule": "computes only if it beats every control"},
        "test_predictions": {"seed": 0, "first_step": 100, "target": list(np.linspace(0.2, 0.4, 300)),
                             "device": list(np.linspace(0.25, 0.35, 300))},
        "captures": ["capture.sqlite"],
    }


def tpf_report() -> dict:
    fpr = list(np.linspace(0, 1, 11))
    return {"kind": "tpf", "rounds": 5, "auc": 0.5012, "auc_ci": [0.49, 0.51], "positive_rate": 0.25,
            "bound_saving": 1 - 5 / 64,
            "roc": {"fpr": fpr, "tpr": fpr, "tpr_low": [max(0, f - 0.05) for f in fpr],
                    "tpr_high": [min(1, f + 0.05) for f in fpr]},
            "ledger": [{"threshold": t, "aborted": t, "valid_lost": t, "rounds_per_valid": 1.0}
                       for t in (0.1, 0.5, 0.9)],
            "verdict": "no better than chance"}


@pytest.fixture(scope="session")
def captures_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "demo").mkdir()
    write_capture(root / "demo" / "capture.sqlite")
    (root / "demo" / "report.json").write_text(json.dumps(reservoir_report()))
    (root / "filter").mkdir()
    (root / "filter" / "report.json").write_text(json.dumps(tpf_report()))
    (root / "pool").mkdir()
    write_capture(root / "pool" / "pool-capture.sqlite", chips=3, seed=5)
    return root
