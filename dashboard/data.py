"""What the dashboard shows, as plain functions over report and capture files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asic_bridge.capture import CaptureReader

NRMSE_NOTE = "NRMSE = RMSE / std(test target); 1.0 is no better than predicting the mean."


def find_runs(root: str | Path) -> list[Path]:
    """Directories under ``root`` (itself included) holding a ``report.json``, newest first."""
    root = Path(root)
    if not root.exists():
        return []
    reports = [p for p in root.rglob("report.json") if p.is_file()]
    return [p.parent for p in sorted(reports, key=lambda p: p.stat().st_mtime, reverse=True)]


def load_report(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "report.json").read_text())


def results_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per readout: NRMSE mean, interval and what it is."""
    rows = [
        {
            "readout": r["name"],
            "NRMSE": round(r["nrmse"], 4),
            "CI low": round(r["nrmse_ci"][0], 4),
            "CI high": round(r["nrmse_ci"][1], 4),
            "per seed": ", ".join(f"{v:.3f}" for v in r.get("per_seed", [])),
            "what": r.get("description", ""),
        }
        for r in report["results"]
    ]
    return pd.DataFrame(rows)


def predictions_frame(report: dict[str, Any]) -> pd.DataFrame:
    """Target and predictions over the test span, indexed by step."""
    tp = report["test_predictions"]
    steps = np.arange(tp["first_step"], tp["first_step"] + len(tp["target"]))
    frame = pd.DataFrame({"target y(t+1)": tp["target"]}, index=pd.Index(steps, name="step"))
    for name in ("device", "input_linear_10"):
        if name in tp:
            frame[f"{name} prediction"] = tp[name]
    return frame


def traces(capture: str | Path, bin_s: float = 10.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share rate (accepted shares per second, in ``bin_s`` bins) and temperatures over
    time (seconds from the capture's first event)."""
    with CaptureReader(capture) as reader:
        shares = reader.dataframe("shares")
        telemetry = reader.dataframe("telemetry")
    t0 = min(
        [int(f["t_ns"].min()) for f in (shares, telemetry) if len(f)], default=0
    )
    rate = pd.DataFrame(columns=["shares/s"])
    if len(shares):
        ok = shares[shares["outcome"] == "accepted"]
        t_s = (ok["t_ns"] - t0) / 1e9
        edges = np.arange(0.0, float(t_s.max()) + bin_s, bin_s)
        counts, _ = np.histogram(t_s, bins=edges) if len(edges) > 1 else (np.array([]), edges)
        rate = pd.DataFrame({"shares/s": counts / bin_s}, index=pd.Index(edges[:-1], name="time (s)"))
    temps = telemetry[telemetry["quantity"].str.endswith("chip_temp")]
    temp_frame = pd.DataFrame()
    if len(temps):
        temps = temps.assign(time_s=(temps["t_ns"] - t0) / 1e9)
        temp_frame = temps.pivot_table(index="time_s", columns="quantity", values="value")
        temp_frame.index.name = "time (s)"
    return rate, temp_frame
