"""What the dashboard shows, as plain functions over report and capture files.

No Streamlit here: every function takes paths or dicts and returns frames or dicts, so
it is tested without a browser and reused by the benchmark.

Reports are ``report.json`` files under the captures folder. Each names its kind in a
top-level ``"kind"`` (``narma``, ``mc``, ``tpf``, ``hashrate``, ``sweep``, ``puf``,
``claims``); reports written before kinds existed are recognised by their keys.
Captures are ``*.sqlite`` capture stores, whoever made them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asic_bridge.capture import CaptureReader
from asic_bridge.errors import CaptureError
from asic_bridge.events import KIND_EVENTS

NRMSE_NOTE = (
    "NRMSE = RMSE / std(test target) (std-normalised); 1.0 is no better than predicting "
    "the training mean, lower is better."
)
PAGE_KINDS: dict[str, tuple[str, ...]] = {
    "reservoir": ("narma", "mc", "reservoir"),
    "energy_filter": ("tpf",),
    "hashrate": ("hashrate",),
    "sweeps": ("sweep",),
    "fingerprints": ("puf",),
    "claims": ("claims",),
}
MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReportFile:
    """One report under the captures folder: its folder, its kind, its content."""

    path: Path
    kind: str
    report: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent

    def label(self, root: Path) -> str:
        try:
            return str(self.folder.relative_to(root)) or "."
        except ValueError:
            return str(self.folder)


def report_kind(report: dict[str, Any]) -> str:
    """The kind a report declares, else the one its keys show; ``unknown`` otherwise."""
    kind = report.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    signatures = (
        ("tpf", ("evaluations", "published_circularity")),
        ("hashrate", ("hashrate", "published_case")),
        ("sweep", ("cells", "axes")),
        ("puf", ("eer", "genuine_scores")),
        ("claims", ("rows", "devices")),
    )
    for name, keys in signatures:
        if all(k in report for k in keys):
            return name
    results = report.get("results")
    if isinstance(results, dict) and results:
        return "mc" if set(results) == {"mc"} else "narma"
    if str(report.get("task", "")).startswith("narma") and isinstance(results, list):
        return "narma"
    return "unknown"


REPORT_FILES = ("report.json", "claims.json")


def find_reports(root: str | Path, kinds: tuple[str, ...] | None = None) -> list[ReportFile]:
    """Every readable report (``report.json``, ``claims.json``) under ``root``, newest
    first, optionally of some kinds only. Unreadable or oversized files are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    paths = [p for name in REPORT_FILES for p in root.rglob(name)]
    found: list[ReportFile] = []
    for path in sorted(paths, key=_mtime, reverse=True):
        try:
            if not path.is_file() or path.stat().st_size > MAX_REPORT_BYTES:
                continue
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(report, dict):
            continue
        kind = report_kind(report)
        if kinds is None or kind in kinds:
            found.append(ReportFile(path, kind, report))
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_captures(root: str | Path) -> list[Path]:
    """Every ``*.sqlite`` file under ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.rglob("*.sqlite") if p.is_file()), key=_mtime, reverse=True)


def inside(root: str | Path, candidate: str | Path) -> Path:
    """``candidate`` (relative paths are taken from ``root``) resolved, if it lies inside
    ``root``; a report naming a file outside the captures folder is refused."""
    root_path = Path(root).resolve()
    path = Path(candidate)
    resolved = (path if path.is_absolute() else root_path / path).resolve()
    if resolved != root_path and root_path not in resolved.parents:
        raise CaptureError(f"{candidate} lies outside the captures folder {root_path}; not opened")
    return resolved


def report_capture(root: str | Path, report_file: ReportFile) -> Path | None:
    """The first capture a report names, resolved beside the report and kept inside
    ``root``; None when it names none or the file is gone."""
    captures = report_file.report.get("captures") or [
        r["capture"] for r in report_file.report.get("runs") or [] if isinstance(r, dict) and "capture" in r]
    if not captures:
        return None
    first = Path(str(captures[0]))
    candidate = first if first.is_absolute() else report_file.folder / first
    path = inside(root, candidate)
    return path if path.is_file() else None


# -- reservoir reports --------------------------------------------------------------------

def _ci(row: dict[str, Any]) -> tuple[float, float]:
    ci = row.get("nrmse_ci") or [math.nan, math.nan]
    return float(ci[0]), float(ci[1])


def results_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per task and readout: its score (NRMSE, or memory capacity MC), interval,
    the paired difference device - control with its Holm-corrected p-value where the
    report has them, and what the readout is."""
    rows = []
    for r in _result_rows(report):
        score = r.get("score", "nrmse")
        value = r.get(score, r.get("nrmse"))
        low, high = r.get(f"{score}_ci") or r.get("nrmse_ci") or [math.nan, math.nan]
        paired = r.get("paired_difference")
        difference = paired.get("mean") if isinstance(paired, dict) else paired
        rows.append({
            "task": r.get("task", report.get("task", "")),
            "readout": r["name"],
            "score": "MC" if score == "mc" else "NRMSE",
            "value": _round(value),
            "CI low": _round(low),
            "CI high": _round(high),
            "normalisation": r.get("normalisation", report.get("nrmse_normalisation", "std")),
            "device - control": _round(difference),
            "p (Holm)": _round(r.get("p_holm", r.get("p_value")), 4),
            "what": r.get("description", ""),
        })
    return pd.DataFrame(rows)


def _round(value: Any, digits: int = 4) -> float | None:
    if value is None:
        return None
    try:
        return round(float(value), digits)
    except (TypeError, ValueError):
        return None


def _result_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-readout rows, whether the report keeps them at the top (one task) or per
    task (``results: {task: {score, rows: [...]}}``)."""
    results = report.get("results")
    if isinstance(results, list):
        return list(results)
    rows: list[dict[str, Any]] = []
    if isinstance(results, dict):
        for task, content in results.items():
            content = content or {}
            for r in content.get("rows", []):
                rows.append({**r, "task": task, "score": content.get("score", "nrmse")})
    return rows


def verdicts(report: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Per task: (task, computes, one plain sentence)."""
    results = report.get("results")
    if isinstance(results, dict):
        out = []
        for task, content in results.items():
            verdict = (content or {}).get("verdict") or {}
            computes = bool(verdict.get("computes"))
            failed = verdict.get("failed") or []
            if computes:
                text = f"{task}: the device computes: it beats every required control."
            else:
                required = verdict.get("required_controls") or failed
                text = (f"{task}: the device does NOT compute: it does not beat "
                        f"{len(failed)} of {len(required)} required controls"
                        f"{' (' + ', '.join(failed) + ')' if failed else ''}.")
            out.append((task, computes, f"{text} Rule: {verdict.get('rule', '')}"))
        return out
    computes, text = verdict_text(report)
    return [(str(report.get("task", "")), computes, text)]


def verdict_text(report: dict[str, Any]) -> tuple[bool, str]:
    """(computes, one plain sentence) for a one-task reservoir report."""
    verdict = report.get("verdict") or {}
    computes = bool(verdict.get("computes"))
    rule = verdict.get("rule", "")
    if computes:
        return True, f"The device computes on this task: it beats every control it must beat. Rule: {rule}"
    failed = [k.removeprefix("device_beats_") for k, v in verdict.items()
              if k.startswith("device_beats_") and v is False]
    reason = f" It does not beat: {', '.join(failed)}." if failed else ""
    return False, (f"The device does NOT compute on this task: it does not beat its controls.{reason} "
                   f"Rule: {rule}")


def headline(results: pd.DataFrame) -> list[str]:
    """Per task, one sentence with the device's NRMSE and interval beside the best
    input-only control's and the mean's (what a reader needs before the table)."""
    sentences = []
    for task, part in results.groupby("task", sort=False):
        def describe(rows: pd.DataFrame) -> str:
            r = rows.iloc[0]
            return f"{r['readout']} {r['value']:.3f} [{r['CI low']:.3f}, {r['CI high']:.3f}]"

        device = part[part["readout"] == "device"]
        if device.empty:
            continue
        inputs = part[part["readout"].str.startswith("input_")]
        mean = part[part["readout"] == "mean"]
        text = f"{task + ': ' if task else ''}{describe(device)}"
        score = part["score"].iloc[0]
        if len(inputs):
            best = inputs.sort_values("value", ascending=score == "NRMSE")
            text += f"; best input-only control {describe(best)}"
        if len(mean):
            text += f"; {describe(mean)}"
        what = "NRMSE, lower is better" if score == "NRMSE" else "memory capacity MC, higher is better"
        sentences.append(f"{text} ({what}; 95 % interval)")
    return sentences


PREDICTION_SERIES = ("device", "input_quadratic_30", "input_linear_10", "esn_equal")


def predictions_frame(report: dict[str, Any], window: int = 200, task: str = "narma10") -> pd.DataFrame:
    """Target and predictions over the first ``window`` test steps (a readable window,
    not thousands of overlapping points), indexed by step: the device and a few of its
    controls (the strongest input-only one, the linear one, the ESN of equal size)."""
    pw = report.get("prediction_window")
    if isinstance(pw, dict):  # per task
        target = list((pw.get("targets") or {}).get(task, []))[:window]
        predictions = (pw.get("predictions") or {}).get(task, {})
        first = int(pw.get("first_test_step", 0))
    else:
        tp = report.get("test_predictions") or {}
        target = list(tp.get("target", []))[:window]
        predictions = {k: v for k, v in tp.items() if k not in ("seed", "first_step", "target")}
        first = int(tp.get("first_step", 0))
    if not target:
        return pd.DataFrame()
    steps = np.arange(first, first + len(target))
    frame = pd.DataFrame({"target": target}, index=pd.Index(steps, name="step"))
    for name in PREDICTION_SERIES:
        values = predictions.get(name)
        if isinstance(values, list):
            frame[f"{name} prediction"] = values[:len(target)]
    return frame


def prediction_meta(report: dict[str, Any]) -> tuple[Any, Any]:
    """(seed, serial) of the run whose predictions are shown."""
    pw = report.get("prediction_window") or report.get("test_predictions") or {}
    return pw.get("seed", "?"), pw.get("serial", "")


def prediction_tasks(report: dict[str, Any]) -> list[str]:
    pw = report.get("prediction_window")
    if isinstance(pw, dict):
        return list((pw.get("targets") or {}).keys())
    return ["narma10"] if report.get("test_predictions") else []


def memory_curve(report: dict[str, Any]) -> pd.DataFrame:
    """Memory capacity per delay k (squared correlation on held-out data) of the device
    and its controls, long format (delay, series, MC_k), if the report has the task."""
    results = report.get("results")
    curves = None
    if isinstance(results, dict) and isinstance(results.get("mc"), dict):
        curves = results["mc"].get("curves")
    if not isinstance(curves, dict) or not curves:
        return pd.DataFrame()
    parts = []
    for name in ("device", "input_leaky", "input_linear_30", "esn_equal", "device_shifted"):
        values = curves.get(name)
        if isinstance(values, list) and values:
            parts.append(pd.DataFrame({"delay": np.arange(len(values)), "series": name, "MC_k": values}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def compare_table(reports: list[ReportFile], root: Path) -> pd.DataFrame:
    """Several reservoir runs side by side, per run and task: the device's score and
    interval, the best input-only control, and the verdict."""
    rows = []
    for rf in reports:
        table = results_table(rf.report)
        if table.empty:
            continue
        computes = {task: flag for task, flag, _ in verdicts(rf.report)}
        protocol = rf.report.get("protocol") or {}
        for task, part in table.groupby("task", sort=False):
            device = part[part["readout"] == "device"]
            inputs = part[part["readout"].str.startswith("input_")]
            nrmse = part["score"].iloc[0] == "NRMSE"
            best = inputs.sort_values("value", ascending=nrmse).iloc[0] if len(inputs) else None
            rows.append({
                "run": rf.label(root),
                "task": task,
                "device": rf.report.get("device", (rf.report.get("serials") or [""])[0]),
                "encoding": rf.report.get("encoding", protocol.get("encoding", "")),
                "score": part["score"].iloc[0],
                "device value": float(device["value"].iloc[0]) if len(device) else math.nan,
                "device CI": (f"[{device['CI low'].iloc[0]:.3f}, {device['CI high'].iloc[0]:.3f}]"
                              if len(device) else ""),
                "best input-only": "" if best is None else f"{best['readout']} {best['value']:.3f}",
                "computes": computes.get(task, computes.get("", False)),
            })
    return pd.DataFrame(rows)


# -- captures ------------------------------------------------------------------------------

@dataclass(slots=True)
class CaptureView:
    """What the Captures page draws, computed once per capture file."""

    metadata: dict[str, Any]
    counts: dict[str, int]
    outcomes: dict[str, int]
    duration_s: float
    rate: pd.DataFrame  # time_s, shares_per_s (complete bins only)
    interarrival: pd.DataFrame  # gap_s bin centre, observed, expected (exponential law)
    mean_gap_s: float
    per_chip: pd.DataFrame  # chip, shares, rate_per_s
    telemetry: pd.DataFrame  # time_s, quantity, index, value, unit (downsampled)
    controls: pd.DataFrame  # time_s, knob, value, unit
    input_u: list[float]


def load_capture(path: str | Path, *, bin_s: float | None = None, max_points: int = 2000) -> CaptureView:
    """Everything the Captures page shows about one capture.

    Shares are read in two passes: outcome counts aggregated by SQLite, and time, outcome
    and chip straight into numpy arrays (no row objects, no DataFrame of millions of
    rows); rates and gaps are binned with numpy. ``bin_s`` is the
    share-rate bin (default: about 200 bins over the capture); only complete bins are
    kept (a partial last bin would understate the rate). Telemetry is thinned to at most
    ``max_points`` samples per quantity for drawing.
    """
    with CaptureReader(path) as reader:
        metadata = reader.metadata()
        counts = {kind: reader.count(kind) for kind in KIND_EVENTS}
        telemetry = reader.frame("telemetry", ["t_ns", "quantity", "value", "unit", "index"])
        controls = reader.frame("control", ["t_ns", "knob", "value", "unit"])
        outcomes = reader.outcome_counts()
        t_ns, accepted, chips = reader.share_arrays()
    t_ok, chips = np.sort(t_ns[accepted]), chips[accepted]
    others = [f["t_ns"] for f in (telemetry, controls) if len(f)]
    starts = [*(t_ok[:1]), *(t.min() for t in others)]
    ends = [*(t_ok[-1:]), *(t.max() for t in others)]
    t0 = int(min(starts, default=0))
    duration_s = (int(max(ends, default=0)) - t0) / 1e9
    rate = _rate((t_ok - t0) / 1e9, duration_s, bin_s)
    inter, mean_gap = _interarrival(np.diff(t_ok) / 1e9)
    chip_ids, chip_counts = np.unique(chips[chips >= 0], return_counts=True)
    per_chip = pd.DataFrame({"chip": chip_ids, "shares": chip_counts})
    per_chip["rate_per_s"] = per_chip["shares"] / max(duration_s, 1e-9)
    tel = telemetry.assign(time_s=(telemetry["t_ns"] - t0) / 1e9).drop(columns="t_ns")
    tel = _thin(tel, max_points)
    ctl = controls.assign(time_s=(controls["t_ns"] - t0) / 1e9).drop(columns="t_ns")
    return CaptureView(metadata, counts, {str(k): int(v) for k, v in outcomes.items()}, duration_s,
                       rate, inter, mean_gap, per_chip, tel, ctl,
                       [float(x) for x in metadata.get("input_u") or []])


def _rate(t_s: np.ndarray, duration_s: float, bin_s: float | None) -> pd.DataFrame:
    empty = pd.DataFrame(columns=["time_s", "shares_per_s"])
    if len(t_s) == 0 or duration_s <= 0:
        return empty
    width = bin_s or max(duration_s / 200.0, 1e-3)
    n_full = int(duration_s // width)  # complete bins only
    if n_full < 1:
        return empty
    edges = np.arange(n_full + 1) * width
    counts, _ = np.histogram(t_s, bins=edges)
    return pd.DataFrame({"time_s": edges[:-1] + width / 2, "shares_per_s": counts / width})


def _interarrival(gaps: np.ndarray, bins: int = 40) -> tuple[pd.DataFrame, float]:
    """Histogram of gaps between accepted shares beside what an exponential law with the
    same mean predicts per bin (a Poisson process's gaps), over 0 to 6 mean gaps (where an
    exponential law leaves 0.25 % of gaps; those beyond are counted in ``beyond``)."""
    if len(gaps) < 2:
        return pd.DataFrame(columns=["gap_s", "observed", "exponential", "beyond"]), math.nan
    mean = float(gaps.mean())
    if mean <= 0:
        return pd.DataFrame(columns=["gap_s", "observed", "exponential", "beyond"]), mean
    edges = np.linspace(0.0, 6.0 * mean, bins + 1)
    observed, _ = np.histogram(gaps, bins=edges)
    expected = len(gaps) * (np.exp(-edges[:-1] / mean) - np.exp(-edges[1:] / mean))
    beyond = np.zeros(bins, dtype=int)
    beyond[-1] = int((gaps > edges[-1]).sum())
    return pd.DataFrame({"gap_s": (edges[:-1] + edges[1:]) / 2, "observed": observed,
                         "exponential": expected, "beyond": beyond}), mean


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows per (quantity, index), evenly spaced."""
    if frame.empty:
        return frame
    parts = []
    for _, part in frame.groupby(["quantity", frame["index"].fillna(-1)], sort=True):
        step = max(1, math.ceil(len(part) / max_points))
        parts.append(part.iloc[::step])
    return pd.concat(parts, ignore_index=True)


def series_label(quantity: str, index: Any, kind: str | None) -> str:
    """``chip_temp[2]`` for an indexed quantity, else the name."""
    if index is None or (isinstance(index, float) and math.isnan(index)):
        return quantity
    return f"{quantity}[{kind + ' ' if kind else ''}{int(index)}]"


def y_domain(values: pd.Series | np.ndarray, pad: float = 0.1) -> tuple[float, float]:
    """A y-range that shows the signal: the data's span plus ``pad`` of it on each side
    (never forced down to zero, so a 53 degC trace is not a flat line)."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return 0.0, 1.0
    low, high = float(array.min()), float(array.max())
    span = high - low or max(abs(high) * 0.05, 1.0)
    return low - pad * span, high + pad * span
