"""Knob schedules for captures: when to set which knob to what.

A schedule file is JSON (a list of objects) or CSV (a header line), each entry with
``t_s`` (seconds from the start of the capture), ``knob``, ``value`` and ``unit``::

    [{"t_s": 0, "knob": "frequency", "value": 485, "unit": "MHz"},
     {"t_s": 60, "knob": "difficulty", "value": 0.001, "unit": "1"}]
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from asic_bridge.models import KNOBS


@dataclass(frozen=True, slots=True, order=True)
class ScheduledSetting:
    """One knob setting ``t_s`` seconds after the capture starts."""

    t_s: float
    knob: str
    value: float
    unit: str


def load_schedule(path: str | Path) -> list[ScheduledSetting]:
    """Read and validate a schedule file (JSON or CSV), sorted by time."""
    path = Path(path)
    text = path.read_text()
    try:
        rows = json.loads(text) if path.suffix.lower() == ".json" else list(csv.DictReader(text.splitlines()))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise ValueError(f"{path}: a schedule is a list of settings")
    settings = []
    for i, row in enumerate(rows):
        try:
            item = ScheduledSetting(float(row["t_s"]), str(row["knob"]), float(row["value"]),
                                    str(row["unit"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: entry {i} needs t_s, knob, value, unit: {exc}") from exc
        if item.knob not in KNOBS:
            raise ValueError(f"{path}: entry {i}: unknown knob {item.knob!r}; knobs: {sorted(KNOBS)}")
        if item.t_s < 0:
            raise ValueError(f"{path}: entry {i}: t_s must be >= 0")
        settings.append(item)
    return sorted(settings)
