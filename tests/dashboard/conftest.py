"""A captures folder as the dashboard finds it: a reservoir report with its capture, an
energy-filter report, and a capture made by a pool (no report)."""

from __future__ import annotations

import json
import os
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
    """A report as ``hashrc narma`` writes it (reservoir.evaluation): results per task."""
    names = ["device", "mean", "input_now", "input_quadratic_30", "device_shifted", "esn_equal"]
    kinds = ["device", "baseline", "input_only", "input_only", "device_control", "esn"]
    nrmse = [0.9521, 1.0113, 0.8812, 0.1094, 1.0021, 0.3317]
    rows = []
    for name, kind, value in zip(names, kinds, nrmse, strict=True):
        row = {"name": name, "kind": kind, "description": f"the {name} readout", "per_run": [value] * 4,
               "nrmse": value, "nrmse_ci": [value - 0.01, value + 0.01], "normalisation": "std"}
        if name != "device":
            row.update(paired_difference={"mean": 0.9521 - value, "ci": [0.0, 0.0], "n": 4},
                       p_holm=0.5, p_value=0.25)
        rows.append(row)
    mc_rows = [
        {"name": "device", "kind": "device", "mc": 1.0016, "mc_ci": [0.91, 1.09], "per_run": [1.0] * 4},
        {"name": "input_leaky", "kind": "input_only", "mc": 4.75, "mc_ci": [4.6, 4.9], "per_run": [4.7] * 4},
    ]
    verdict = {"computes": False,
               "required_controls": ["mean", "input_now", "input_quadratic_30", "device_shifted"],
               "failed": ["input_now", "input_quadratic_30"],
               "rule": "computes only if it beats every control"}
    target = list(np.linspace(0.2, 0.4, 300))
    return {
        "protocol": {"name": "recommended", "steps": 300, "hold_s": 1.0, "encoding": "frequency",
                     "n_seeds": 2},
        "tasks": ["narma10", "mc"], "interval": "95 % Student-t interval over 4 runs",
        "serials": ["LV06-EMU-0001", "LV06-EMU-0002"],
        "results": {
            "narma10": {"task": "narma10", "score": "nrmse", "rows": rows, "verdict": verdict},
            "mc": {"task": "mc", "score": "mc", "rows": mc_rows, "verdict": verdict,
                   "curves": {"device": [0.9, 0.05, 0.01], "input_leaky": [1.0, 0.9, 0.8]}},
        },
        "prediction_window": {"first_test_step": 100, "seed": 0, "serial": "LV06-EMU-0001",
                              "targets": {"narma10": target},
                              "predictions": {"narma10": {"device": list(np.linspace(0.25, 0.35, 300))}}},
        "runs": [{"seed": 0, "serial": "LV06-EMU-0001", "capture": "capture.sqlite"}],
    }


def legacy_report() -> dict:
    """A report as the first demo wrote it (one task, results as a list)."""
    return {
        "task": "narma10", "device": "lv06", "encoding": "frequency", "steps": 300, "hold_s": 1.0,
        "results": [{"name": "device", "nrmse": 0.95, "nrmse_ci": [0.94, 0.96]},
                    {"name": "input_linear_10", "nrmse": 0.59, "nrmse_ci": [0.52, 0.65]}],
        "verdict": {"computes": False, "device_beats_input_linear_10": False, "rule": "intervals"},
        "test_predictions": {"seed": 0, "first_step": 100, "target": [0.1, 0.2], "device": [0.1, 0.2]},
        "captures": ["capture.sqlite"],
    }


def tpf_report() -> dict:
    """A report as ``hashrc tpf`` writes it (reservoir.tpf.report)."""
    ledger = [{"fraction_aborted": f, "valid_lost": f, "valid_lost_ci": [f, f], "saving": 0.0,
               "rounds_per_valid_share_rel": 1.0, "rounds_per_valid_share_rel_ci": [1.0, 1.0]}
              for f in (0.0, 0.5, 0.9)]
    model = {"model": "logistic", "auc": 0.5012, "auc_ci": [0.4901, 0.5123], "auc_permutation_p": 0.61,
             "mutual_information": {"bits": 0.0001, "interval": [0.0, 0.0009]},
             "beats_majority": {"p_value": 1.0}, "ledger": ledger, "best_saving": ledger[0]}
    return {"claim": "Thermodynamic Probability Filter: 92.19 % energy saved",
            "dataset": {"n": 4096, "n_jobs": 4, "source": "synthetic", "positive_rate": 0.0625},
            "energy_model": "128 nonce-dependent rounds per header",
            "evaluations": [{"abort_point": {"hash": 1, "round": 5}, "models": [model],
                             "bounds": {"published_bound_1_minus_k_over_64": 1 - 5 / 64}}],
            "published_circularity": {"description": "label = window_shares > 0", "guard": "circular"}}


@pytest.fixture(scope="session")
def captures_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "demo").mkdir()
    write_capture(root / "demo" / "capture.sqlite")
    (root / "demo" / "report.json").write_text(json.dumps(reservoir_report()))
    (root / "first-demo").mkdir()
    (root / "first-demo" / "report.json").write_text(json.dumps(legacy_report()))
    os.utime(root / "first-demo" / "report.json", (1e9, 1e9))  # older: "demo" is shown first
    (root / "filter").mkdir()
    (root / "filter" / "report.json").write_text(json.dumps(tpf_report()))
    (root / "pool").mkdir()
    write_capture(root / "pool" / "pool-capture.sqlite", chips=3, seed=5)
    return root
