"""Features per step, computed from a capture's events alone.

A step is the span between two consecutive changes of the driven knob (its control
events), the last one lasting ``hold_s`` (an experiment's hold time, or for a
``hashrc capture --schedule`` capture the median step of its schedule). Per step:

* ``share_count`` (accepted shares whose host time falls in the step) and
  ``hw_error_count``;
* ``interarrival_mean_s`` and ``interarrival_cv`` of the gaps ending in the step (a gap
  reaches back to the previous share even across steps); with no gap the mean is the hold
  time and the CV 0, with one gap the CV is 0;
* ``chip{i}_count`` per chip when the device has several;
* each telemetry quantity: the mean of its samples in the step, else the last earlier
  sample (else the first later one); a quantity reported per chip, chain or fan is one
  column per index, ``quantity[index]``. Set-point echoes (the firmware restating a knob,
  see :data:`asic_bridge.models.KNOB_ECHOES`) are excluded unless asked for: they are a
  copy of the input, not a response of the device.
* cumulative counters the firmware reports (:func:`is_counter`: errors, accepted and
  rejected shares, uptime) become their increase during the step, ``quantity_per_step``
  (a counter reset counts from zero).

A column that only tracks the step index (abs(r) >= :data:`INDEX_TRACK_R` between the column
and the step number, e.g. a counter left cumulative) is dropped: it would let the readout
learn where in the run a step is, not how the device responded. Dropped columns are
listed in :attr:`StepFeatures.excluded`.

A record statistic (:data:`RECORD_STATISTICS`: the firmware's best share difficulty so
far) is dropped too: its per-step increase is zero except when a share beats every earlier
one, heavy-tailed and set by chance, not a response of the device to the input (a log
transform would only hide the outliers it makes).

Only host-side data is used: no emulator ground truth (``t_found_ns``) ever enters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asic_bridge.capture import CaptureReader
from asic_bridge.errors import CaptureError
from asic_bridge.models import KNOB_ECHOES

RECORD_STATISTICS = frozenset({"best_diff"})  # running maxima: dropped from the features

INDEX_TRACK_R = 0.99  # |corr(column, step number)| at or above this: the column is dropped
COUNTERS = frozenset({"hw_errors", "shares_accepted", "shares_rejected", "uptime", "accepted",
                      "rejected", "hardware_errors"})
COUNTER_SUFFIXES = ("_hw_errors", "_errors", "_accepted", "_rejected")


def is_counter(quantity: str) -> bool:
    """True for a cumulative counter (monotone between resets), named as the telemetry
    schema names them (``hw_errors``, ``shares_accepted``, per-chain ``chainN_hw_errors``)."""
    try:
        from asic_bridge import telemetry_schema  # the one schema, when present

        kind = getattr(telemetry_schema, "is_cumulative", None)
        if callable(kind) and kind(quantity):
            return True
    except ImportError:
        pass
    return quantity in COUNTERS or quantity.endswith(COUNTER_SUFFIXES)


@dataclass(frozen=True, slots=True)
class StepFeatures:
    """A matrix of features, one row per step, and the name of each column."""

    names: tuple[str, ...]
    values: np.ndarray  # shape (n_steps, n_features)
    step_starts_ns: np.ndarray
    excluded: tuple[tuple[str, str], ...] = ()  # (column, why it was dropped)

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


def _last_at(tq: np.ndarray, vq: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Last sample at or before each time in ``t`` (the first sample before any)."""
    i = np.searchsorted(tq, t, "right") - 1
    return vq[np.clip(i, 0, len(vq) - 1)]


def telemetry_features(
    t_ns: np.ndarray, quantity: np.ndarray, value: np.ndarray,
    starts_ns: np.ndarray, ends_ns: np.ndarray, *, include_echoes: bool = False,
    index: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """Per step, each quantity's mean in the step, else its last earlier sample; a
    counter's increase over the step. ``index`` (chip/chain/fan, None or NaN for a single
    value) splits a quantity into ``quantity[index]`` columns."""
    keys = [str(q) for q in quantity]
    if index is not None:
        keys = [q if i is None or i != i else f"{q}[{int(i)}]" for q, i in zip(keys, index, strict=True)]
    keys_arr = np.asarray(keys, dtype=object)
    names: list[str] = []
    columns: list[np.ndarray] = []
    for key in sorted(set(keys)):
        q = key.split("[", 1)[0]
        if not include_echoes and q in KNOB_ECHOES:
            continue
        mask = keys_arr == key
        tq, vq = t_ns[mask], value[mask].astype(float)
        order = np.argsort(tq, kind="stable")
        tq, vq = tq[order], vq[order]
        if is_counter(q):
            before, after = _last_at(tq, vq, starts_ns - 1), _last_at(tq, vq, ends_ns - 1)
            diff = after - before
            names.append(f"{q}_per_step{key[len(q):]}")
            columns.append(np.where(diff < 0, after, diff))  # a reset counts from zero
            continue
        csum = np.concatenate([[0.0], np.cumsum(vq)])
        lo = np.searchsorted(tq, starts_ns, "left")
        hi = np.searchsorted(tq, ends_ns, "left")
        n_in = hi - lo
        col = np.where(n_in > 0, (csum[hi] - csum[lo]) / np.maximum(n_in, 1), np.nan)
        previous = np.clip(lo - 1, 0, len(vq) - 1)
        col = np.where(np.isnan(col), vq[previous], col)  # carries the first sample back too
        names.append(key)
        columns.append(col)
    if not columns:
        return [], np.zeros((len(starts_ns), 0))
    return names, np.column_stack(columns)


def index_tracking(names: list[str], x: np.ndarray) -> list[int]:
    """Columns that only track the step number (|r| >= :data:`INDEX_TRACK_R`)."""
    steps = np.arange(len(x), dtype=float)
    out = []
    if len(x) < 3:
        return out
    for j in range(x.shape[1]):
        col = x[:, j]
        if np.std(col) > 0 and abs(np.corrcoef(col, steps)[0, 1]) >= INDEX_TRACK_R:
            out.append(j)
    return out


def driven_steps(meta: dict, controls: object, path: str | Path) -> tuple[str, np.ndarray, float]:
    """The driven knob, its step starts (ns) and the last step's length (s).

    An experiment names its ``knob`` (legacy) or ``knobs`` and ``hold_s`` and where its
    steps start (``first_step_t_ns``, after any calibration); a ``hashrc capture
    --schedule`` capture gives its schedule. Anything else has no steps: a
    :class:`CaptureError` says what is missing."""
    knobs = list(meta.get("knobs") or ([meta["knob"]] if meta.get("knob") else []))
    schedule = meta.get("schedule") or []
    if not knobs and schedule:
        knobs = sorted({row[1] for row in schedule})
    if not knobs:
        raise CaptureError(
            f"{path}: no driven knob (metadata has no knobs/hold_s and no schedule), so it has "
            "no steps to compute features for; record with `hashrc capture --schedule FILE` "
            "or `hashrc narma`")
    t = controls["t_ns"].to_numpy(np.int64)  # type: ignore[index]
    knob_col = controls["knob"].to_numpy()  # type: ignore[index]
    counts = {k: int(np.sum(knob_col == k)) for k in knobs}
    knob = max(knobs, key=lambda k: counts[k])  # the knob the schedule moves most
    starts = np.sort(t[knob_col == knob])
    if meta.get("first_step_t_ns") is not None:
        starts = starts[starts >= int(meta["first_step_t_ns"])]
    if meta.get("steps"):
        starts = starts[: int(meta["steps"])]
    if len(starts) == 0:
        raise CaptureError(f"{path}: no control events for the driven knob {knob!r}: no steps")
    hold = meta.get("hold_s")
    if hold is None:
        if len(starts) < 2:
            raise CaptureError(f"{path}: one {knob} change and no hold_s: the step length is unknown")
        hold = float(np.median(np.diff(starts))) / 1e9
    return knob, starts, float(hold)


def features_from_capture(path: str | Path, *, include_echoes: bool = False) -> StepFeatures:
    """Step features of any capture with a driven knob (an experiment's, or a
    ``hashrc capture --schedule`` capture's)."""
    with CaptureReader(path) as reader:
        meta = reader.metadata()
        controls = reader.dataframe("control")
        share_t_ns, accepted, chips = reader.share_arrays()
        telemetry = reader.frame("telemetry", ["t_ns", "quantity", "value", "index"])
    _knob, starts, hold_s = driven_steps(meta, controls, path)
    n_chips = int(meta.get("chip_count") or 1)
    ends = step_bounds(starts, hold_s)
    names, share_x = share_features(
        share_t_ns, accepted, np.where(chips < 0, 0, chips), starts, ends, n_chips, hold_s
    )
    index = telemetry["index"].to_numpy(dtype=object) if len(telemetry) else None
    t_names, tel_x = telemetry_features(
        telemetry["t_ns"].to_numpy(np.int64), telemetry["quantity"].to_numpy(),
        telemetry["value"].to_numpy(float), starts, ends, include_echoes=include_echoes,
        index=index,
    )
    all_names = names + t_names
    x = np.column_stack([share_x, tel_x]) if t_names else share_x
    drop = index_tracking(all_names, x)
    record = [j for j, n in enumerate(all_names) if n.split("[")[0].removesuffix("_per_step")
              in RECORD_STATISTICS and j not in drop]
    keep = [j for j in range(len(all_names)) if j not in drop and j not in record]
    return StepFeatures(
        names=tuple(all_names[j] for j in keep),
        values=x[:, keep],
        step_starts_ns=starts,
        excluded=tuple((all_names[j], "tracks the step index") for j in drop)
        + tuple((all_names[j], "a record statistic (running maximum), not a response") for j in record),
    )
