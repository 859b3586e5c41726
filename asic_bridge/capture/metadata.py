"""The metadata every capture carries, whoever made it (an experiment, ``hashrc capture``,
``hashrc pool``), checked before the capture file is created.

Keys (values JSON-encoded in the capture's ``metadata`` table):

===================  ==============================================================
key                  meaning
===================  ==============================================================
metadata_version     version of this key set (:data:`METADATA_VERSION`)
device_model         ``lv06``, ``s9``, ``lbbox`` or ``unknown`` (a bare pool)
device_serial        the device's serial (None when unknown)
device_id            the ``device`` name its events carry
device_url           the URL it was opened with (None for a bare pool)
firmware             firmware (or emulator) version, None when unknown
clock                ``simulated`` (emulator epoch) or ``wall`` (Unix epoch) nanoseconds
chip_count           chips of the model (None when unknown)
knobs                knobs driven by the capture (a list; empty when none is)
control_path         knob -> path its commands went through: ``pool``
                     (``mining.set_difficulty``), ``management API`` (AxeOS / cgminer /
                     Goldshell HTTP or TCP), ``chip UART`` (BM13xx registers) or
                     ``simulation`` (the in-process emulator's model of those paths)
hold_s               seconds each encoded value is held (experiments), else None
schedule             ``[[t_s, knob, value, unit], ...]`` (``hashrc capture``), else None
encoder              name of the encoding of the task input, else None
seed                 data seed of the task input, else None
task                 ``narma10``, ``capture``, ``stratum-pool``, ``stratum-proxy``, ...
hashrc_version       the hashrc that wrote it
start_time           ISO 8601 UTC wall time the capture started
===================  ==============================================================

The store adds ``schema_version`` (its table layout). Anything else a maker wants to keep
(pool difficulty, calibration, the task input) goes in as extra keys.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asic_bridge.errors import CaptureError
from asic_bridge.models import DIFFICULTY, KNOBS

METADATA_VERSION = 1
CLOCKS = ("simulated", "wall")
CONTROL_PATHS = ("pool", "management API", "chip UART", "simulation")
REQUIRED = (
    "metadata_version", "device_model", "device_serial", "device_id", "device_url", "firmware",
    "clock", "chip_count", "knobs", "control_path", "hold_s", "schedule", "encoder", "seed",
    "task", "hashrc_version", "start_time",
)

# URL scheme -> the path each knob's commands take on such a device
_SCHEME_PATHS: dict[str, dict[str, str]] = {
    "emu": {},  # everything: "simulation"
    "axeos": {DIFFICULTY.name: "pool"},
    "cgminer": {DIFFICULTY.name: "pool"},
    "goldshell": {DIFFICULTY.name: "pool"},
    "serial": {},  # everything: "chip UART" (difficulty is the ticket mask)
}
_SCHEME_DEFAULT = {"emu": "simulation", "axeos": "management API", "cgminer": "management API",
                   "goldshell": "management API", "serial": "chip UART"}


def control_path_for(device: Any, device_url: str | None, knob: str) -> str:
    """The path ``knob``'s commands take on this device. A backend may say so itself
    (a ``control_path(knob)`` method); otherwise it follows from the URL scheme."""
    own = getattr(device, "control_path", None)
    if callable(own):
        try:
            path = own(knob)
        except Exception:  # a backend without the knob: the scheme's path below
            path = None
        if path in CONTROL_PATHS:
            return str(path)
    scheme = urlsplit(device_url or "").scheme
    if scheme not in _SCHEME_DEFAULT:
        raise CaptureError(f"no control path known for {device_url!r}")
    return _SCHEME_PATHS[scheme].get(knob, _SCHEME_DEFAULT[scheme])


def now_iso() -> str:
    """Current UTC wall time, ISO 8601."""
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass(frozen=True, slots=True)
class CaptureMetadata:
    """What a capture is; :meth:`as_dict` validates and returns the stored key set."""

    device_model: str
    task: str
    clock: str
    device_serial: str | None = None
    device_id: str | None = None
    device_url: str | None = None
    firmware: str | None = None
    chip_count: int | None = None
    knobs: tuple[str, ...] = ()
    control_path: Mapping[str, str] = field(default_factory=dict)
    hold_s: float | None = None
    schedule: Sequence[Sequence[Any]] | None = None
    encoder: str | None = None
    seed: int | None = None
    start_time: str = field(default_factory=now_iso)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        from asic_bridge import __version__

        meta: dict[str, Any] = {
            "metadata_version": METADATA_VERSION,
            "device_model": self.device_model,
            "device_serial": self.device_serial,
            "device_id": self.device_id,
            "device_url": self.device_url,
            "firmware": self.firmware,
            "clock": self.clock,
            "chip_count": self.chip_count,
            "knobs": list(self.knobs),
            "control_path": dict(self.control_path),
            "hold_s": self.hold_s,
            "schedule": None if self.schedule is None else [list(s) for s in self.schedule],
            "encoder": self.encoder,
            "seed": self.seed,
            "task": self.task,
            "hashrc_version": __version__,
            "start_time": self.start_time,
        }
        for key, value in self.extra.items():
            if key in meta:
                raise CaptureError(f"capture metadata: extra key {key!r} shadows a schema key")
            meta[key] = value
        validate_metadata(meta)
        return meta


def validate_metadata(meta: Mapping[str, Any]) -> None:
    """Raise :class:`CaptureError` (one line) unless ``meta`` follows the schema."""

    def fail(text: str) -> None:
        raise CaptureError(f"capture metadata: {text}")

    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        fail(f"missing {', '.join(missing)}")
    if meta["metadata_version"] != METADATA_VERSION:
        fail(f"metadata_version {meta['metadata_version']!r}, expected {METADATA_VERSION}")
    if not isinstance(meta["device_model"], str) or not meta["device_model"]:
        fail("device_model must be a non-empty string")
    if not isinstance(meta["task"], str) or not meta["task"]:
        fail("task must be a non-empty string")
    if meta["clock"] not in CLOCKS:
        fail(f"clock {meta['clock']!r} is not one of {CLOCKS}")
    knobs = meta["knobs"]
    if not isinstance(knobs, list) or any(k not in KNOBS for k in knobs):
        fail(f"knobs {knobs!r} must be a list of {sorted(KNOBS)}")
    paths = meta["control_path"]
    if not isinstance(paths, dict) or set(paths) != set(knobs):
        fail(f"control_path must name the path of each driven knob {knobs}, got {paths!r}")
    bad = {k: v for k, v in paths.items() if v not in CONTROL_PATHS}
    if bad:
        fail(f"control_path {bad} not one of {CONTROL_PATHS}")
    hold = meta["hold_s"]
    if hold is not None and not (isinstance(hold, int | float) and math.isfinite(hold) and hold > 0):
        fail(f"hold_s must be a positive number of seconds, got {hold!r}")
    schedule = meta["schedule"]
    if schedule is not None and not isinstance(schedule, list):
        fail("schedule must be a list of [t_s, knob, value, unit]")
    if knobs and hold is None and not schedule:
        fail(f"knobs {knobs} are driven but neither hold_s nor a schedule says when")
    seed = meta["seed"]
    if seed is not None and not isinstance(seed, int):
        fail(f"seed must be an integer, got {seed!r}")
    count = meta["chip_count"]
    if count is not None and not (isinstance(count, int) and count > 0):
        fail(f"chip_count must be a positive integer, got {count!r}")


def device_metadata(device: Any, device_url: str, *, task: str, knobs: Sequence[str] = (),
                    **fields: Any) -> CaptureMetadata:
    """Metadata of a capture of an opened :class:`asic_bridge.device.Device`."""
    info = device.info
    return CaptureMetadata(
        device_model=info.model, device_serial=info.serial, device_id=info.device_id,
        device_url=device_url, firmware=info.firmware,
        clock="simulated" if device.clock.simulated else "wall",
        chip_count=device.spec.chip_count, task=task, knobs=tuple(knobs),
        control_path={k: control_path_for(device, device_url, k) for k in knobs}, **fields,
    )


def pool_metadata(*, task: str, difficulty: float, policy: str | None = None,
                  upstream: str | None = None, listen: str | None = None) -> CaptureMetadata:
    """Metadata of a ``hashrc pool`` capture: the miners are unknown, no knob is driven
    (the pool's difficulty is fixed)."""
    return CaptureMetadata(
        device_model="unknown", task=task, clock="wall",
        extra={"difficulty": difficulty, "policy": policy, "upstream": upstream, "listen": listen},
    )


def refuse_existing(path: str | Path, overwrite: bool) -> None:
    """The one overwrite policy: an existing output is replaced only with ``--overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise CaptureError(f"{path} exists; pass --overwrite to replace it (or choose another path)")


def discard_capture(path: str | Path) -> None:
    """Remove a capture file and its WAL side files (after a failed start)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def new_capture(path: str | Path, metadata: CaptureMetadata, *, overwrite: bool = False,
                **writer_options: Any) -> Any:
    """Validate ``metadata``, then create the capture (a
    :class:`~asic_bridge.capture.store.CaptureWriter`). Refuses an existing file unless
    ``overwrite``; an output directory that cannot be made is a one-line OSError."""
    from asic_bridge.capture.store import CaptureWriter

    meta = metadata.as_dict()
    refuse_existing(path, overwrite)
    return CaptureWriter(path, metadata=meta, overwrite=overwrite, **writer_options)
