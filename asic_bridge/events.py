"""The one typed event stream every device produces, real or emulated.

Events are frozen dataclasses: a seam between whatever produced them (a pool server, a
UART reader, an API poller, the emulator) and whatever consumes them (the capture store,
MQTT, the experiment). Timestamps are integer nanoseconds. ``t_ns`` is always the time
at which the *host* saw the event, on the clock named by the capture's ``clock``
metadata: nanoseconds since the Unix epoch for hardware, since the simulation epoch for
the emulator's simulated clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ShareOutcome(StrEnum):
    """What became of a share. A reject is a value, not an exception."""

    ACCEPTED = "accepted"
    STALE = "stale"
    DUPLICATE = "duplicate"
    LOW_DIFFICULTY = "low-difficulty"
    HARDWARE_ERROR = "hardware-error"
    UNKNOWN_JOB = "unknown-job"
    NTIME_OUT_OF_RANGE = "ntime-out-of-range"
    BAD_VERSION_BITS = "bad-version-bits"
    MALFORMED = "malformed"
    UNAUTHORIZED = "unauthorized"  # submitted before subscribe/authorize succeeded


class TimestampSource(StrEnum):
    """Where a share's ``t_ns`` came from."""

    SIMULATED = "simulated"  # the emulator's simulated clock
    KERNEL = "kernel"  # SO_TIMESTAMPNS / SO_TIMESTAMPING receive time of the bytes
    USERSPACE = "userspace"  # fallback: time.time_ns() when the bytes were read
    SERIAL = "serial"  # time the UART reader returned the frame's last byte


@dataclass(frozen=True, slots=True)
class ShareEvent:
    """One share (a nonce meeting a difficulty) as the host saw it.

    ``difficulty`` is the session difficulty the share was judged against;
    ``share_difficulty`` what its hash actually reached (0.0 when unknown, as for a
    hardware error). ``chip``/``core`` come from the nonce's fields where the device sets
    them. ``t_found_ns`` is emulator ground truth (when the modelled chip found the
    nonce); hardware never has it, so no feature may use it.
    """

    t_ns: int
    device: str
    job_id: str
    nonce: int
    difficulty: float
    share_difficulty: float
    outcome: ShareOutcome
    chip: int | None = None
    core: int | None = None
    version_bits: int = 0
    t_source: TimestampSource = TimestampSource.SIMULATED
    t_parse_mono_ns: int | None = None
    t_found_ns: int | None = None


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One sampled quantity, e.g. ``("chip_temp", 58.25, "degC", index=0)``.

    ``index`` says which one of several: the chip for ``chip_temp``, the fan for
    ``fan_rpm``, the chain for ``board_temp``; what it counts is fixed per quantity by
    the telemetry schema (:mod:`asic_bridge.telemetry_schema`), None for a single value.
    """

    t_ns: int
    device: str
    quantity: str
    value: float
    unit: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """A knob change the device accepted: ``value`` is what was applied (e.g. the PLL grid
    frequency in MHz), ``requested`` what was asked for."""

    t_ns: int
    device: str
    knob: str
    value: float
    unit: str
    requested: float | None = None


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A job handed to a device (a Stratum notify or a chip job frame)."""

    t_ns: int
    device: str
    job_id: str
    difficulty: float
    clean: bool = False


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """Something the host noticed about a device or a link rather than a measurement: a
    failed poll, a dropped link, a pool that stopped recording, a device going on- or
    offline. ``status`` is a short machine-readable word (``poll_failed``,
    ``link_closed``, ``online``, ``offline``, ``capture_failed``, ...), ``detail`` one
    human-readable line, ``count`` how many occurrences it stands for (a run of
    identical failures may be folded into one event)."""

    t_ns: int
    device: str
    status: str
    detail: str = ""
    count: int = 1


Event = ShareEvent | TelemetryEvent | ControlEvent | JobEvent | StatusEvent
"""Any event of the stream."""

EVENT_KINDS: dict[type, str] = {
    ShareEvent: "shares",
    TelemetryEvent: "telemetry",
    ControlEvent: "control",
    JobEvent: "jobs",
    StatusEvent: "status",
}
"""The one name of each event kind: capture table, MQTT topic leaf, export file name."""

KIND_EVENTS: dict[str, type] = {kind: t for t, kind in EVENT_KINDS.items()}
