"""Features per step, computed from a capture's events alone.

A step is the span between two consecutive changes of the encoding knob (its control
events), the last one lasting ``hold_s``. Per step:

* ``share_count`` (accepted shares whose host time falls in the step) and
  ``hw_error_count``;
* ``interarrival_mean_s`` and ``interarrival_cv`` of the gaps ending in the step (a gap
  reaches back to the previous share even across steps); with no gap the mean is the hold
  time and the CV 0, with one gap the CV is 0;
* ``chip{i}_count`` per chip when the device has several;
* each telemetry quantity: the mean of its samples in the step, else the last earlier
  sample (else the first later one). Set-point echoes (the firmware restating a knob, see
  :data:`asic_bridge.models.KNOB_ECHOES`) are excluded unless asked for: they are a copy of
  the input, not a response of the device.

Only host-side data is used: no emulator ground truth (``t_found_ns``) ever enters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asic_bridge.capture import CaptureReader
from asic_bridge.models import KNOB_ECHOES


@dataclass(frozen=True, slots=True)
class StepFeatures:
    """A matrix of features, one row per step, and the name of each column."""

    names: tuple[str, ...]
    values: np.ndarray  # shape (n_steps, n_features)
    step_starts_ns: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.step_starts_ns), len(self.names)):
            raise ValueError("feature matrix shape does not match steps x names")


def step_bounds(starts_ns: np.ndarray, hold_s: float) -> np.ndarray:
    """End of each step (ns): the next step's start, the last one ``hold_s`` after its own."""
    starts = np.asarray(starts_ns, dtype=np.int64)
    return np.append(starts[1:], starts[-1] + round(hold_s * 1e9))


def share_features(
    t_ns: np.ndarray,
    accepted: np.ndarray,
    chip: np.ndarray,
    starts_ns: np.ndarray,
    ends_ns: np.ndarray,
    n_chips: int,
    hold_s: float,
) -> tuple[list[str], np.ndarray]:
    """Counts, inter-arrival statistics and per-chip counts per step."""
    n_steps = len(starts_ns)
    t_ok = np.sort(t_ns[accepted])
    first = np.searchsorted(t_ok, starts_ns, side="left")
    last = np.searchsorted(t_ok, ends_ns, side="left")
    counts = (last - first).astype(float)
    t_err = np.sort(t_ns[~accepted])
    hw = (np.searchsorted(t_err, ends_ns, "left") - np.searchsorted(t_err, starts_ns, "left"))
    gaps = np.diff(t_ok) / 1e9  # gap k ends at share k + 1
    mean = np.full(n_steps, float(hold_s))
    cv = np.zeros(n_steps)
    for s in range(n_steps):
        g = gaps[max(first[s] - 1, 0): max(last[s] - 1, 0)]
        if len(g):
            mean[s] = g.mean()
            if len(g) > 1 and g.mean() > 0:
                cv[s] = g.std() / g.mean()
    names = ["share_count", "hw_error_count", "interarrival_mean_s", "interarrival_cv"]
    columns = [counts, hw.astype(float), mean, cv]
    if n_chips > 1:
        step_of = np.searchsorted(ends_ns, t_ns[accepted], side="right")
        inside = step_of < n_steps
        inside &= t_ns[accepted] >= starts_ns[np.minimum(step_of, n_steps - 1)]
        per_chip = np.zeros((n_steps, n_chips))
        np.add.at(per_chip, (step_of[inside], chip[accepted][inside].astype(int)), 1.0)
        names += [f"chip{i}_count" for i in range(n_chips)]
        columns += list(per_chip.T)
    return names, np.column_stack(columns)


def telemetry_features(
    t_ns: np.ndarray, quantity: np.ndarray, value: np.ndarray,
    starts_ns: np.ndarray, ends_ns: np.ndarray, *, include_echoes: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Per step, each quantity's mean in the step, else its last earlier sample."""
    names: list[str] = []
    columns: list[np.ndarray] = []
    for q in sorted(set(quantity.tolist())):
        if not include_echoes and q in KNOB_ECHOES:
            continue
        mask = quantity == q
        tq, vq = t_ns[mask], value[mask].astype(float)
        order = np.argsort(tq, kind="stable")
        tq, vq = tq[order], vq[order]
        csum = np.concatenate([[0.0], np.cumsum(vq)])
        lo = np.searchsorted(tq, starts_ns, "left")
        hi = np.searchsorted(tq, ends_ns, "left")
        n_in = hi - lo
        col = np.where(n_in > 0, (csum[hi] - csum[lo]) / np.maximum(n_in, 1), np.nan)
        previous = np.clip(lo - 1, 0, len(vq) - 1)
        col = np.where(np.isnan(col), vq[previous], col)  # carries the first sample back too
        names.append(q)
        columns.append(col)
    if not columns:
        return [], np.zeros((len(starts_ns), 0))
    return names, np.column_stack(columns)


def features_from_capture(path: str | Path, *, include_echoes: bool = False) -> StepFeatures:
    """Step features of a capture made by :func:`reservoir.experiment.drive_device`."""
    with CaptureReader(path) as reader:
        meta = reader.metadata()
        knob = meta["knob"]
        hold_s = float(meta["hold_s"])
        n_chips = int(meta.get("chip_count", 1))
        controls = reader.dataframe("control")
        shares = reader.dataframe("shares")
        telemetry = reader.dataframe("telemetry")
    starts = controls.loc[controls["knob"] == knob, "t_ns"].to_numpy(np.int64)
    if len(starts) == 0:
        raise ValueError(f"capture {path} has no control events for knob {knob!r}")
    ends = step_bounds(starts, hold_s)
    accepted = (shares["outcome"] == "accepted").to_numpy()
    chips = shares["chip"].fillna(0).to_numpy()
    names, share_x = share_features(
        shares["t_ns"].to_numpy(np.int64), accepted, chips, starts, ends, n_chips, hold_s
    )
    t_names, tel_x = telemetry_features(
        telemetry["t_ns"].to_numpy(np.int64), telemetry["quantity"].to_numpy(),
        telemetry["value"].to_numpy(float), starts, ends, include_echoes=include_echoes,
    )
    return StepFeatures(
        names=tuple(names + t_names),
        values=np.column_stack([share_x, tel_x]) if t_names else share_x,
        step_starts_ns=starts,
    )
