"""The one Device interface every backend implements, real hardware or the emulator.

Experiment code sees only this: set a knob with its unit, let time pass on the device's
clock, drain the events it produced, read its latest telemetry. It never knows whether
the clock is the wall clock (hardware: events arrive from I/O threads while the caller
sleeps) or a simulated one (the emulator: sleeping *is* running the model).

Backends register under a URL scheme and are imported only when a URL of that scheme is
opened (:func:`open_device`), so a missing vendor library fails only when it is used.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asic_bridge.events import ControlEvent, Event, TelemetryEvent
from asic_bridge.models import DeviceSpec


class Clock(ABC):
    """A device's notion of time, in integer nanoseconds."""

    simulated: bool = False

    @abstractmethod
    def now_ns(self) -> int:
        """Current time in ns (Unix epoch for wall clocks, simulation epoch otherwise)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass; a simulated clock runs its model for that long."""


class WallClock(Clock):
    """Real time: ``time.time_ns`` and ``time.sleep``."""

    simulated = False

    def now_ns(self) -> int:
        return time.time_ns()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds} s")
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Identity of one device: model, serial, firmware (or emulator) version."""

    device_id: str
    model: str
    serial: str
    firmware: str
    extra: dict[str, str] = field(default_factory=dict)


class Device(ABC):
    """One miner. Subclasses implement the underscore primitives; the public methods
    validate once for all backends (units, safe envelope) and keep the event stream."""

    spec: DeviceSpec

    @property
    @abstractmethod
    def info(self) -> DeviceInfo:
        """Identity of the device."""

    @property
    @abstractmethod
    def clock(self) -> Clock:
        """The clock this device's timestamps are on."""

    def set_knob(
        self, knob: str, value: float, unit: str, *, override: bool = False
    ) -> ControlEvent:
        """Set ``knob`` (``frequency`` MHz, ``core_voltage`` mV, ``difficulty`` 1,
        ``fan`` %) to ``value``.

        Refuses a value outside the model's safe envelope with
        :class:`~asic_bridge.errors.EnvelopeError` unless ``override`` is true. Returns
        the control event, which also enters the event stream; its ``value`` is what the
        device applied (a PLL lands on its grid), ``requested`` what was asked.
        """
        checked = self.spec.check(knob, value, unit, override=override)
        return self._apply_knob(knob, checked)

    @abstractmethod
    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        """Apply a validated knob value; record and return the control event."""

    @abstractmethod
    def events(self) -> Iterator[Event]:
        """Drain the events produced since the last call, in host-time order. Never blocks."""

    @abstractmethod
    def read_telemetry(self) -> list[TelemetryEvent]:
        """The latest sample of each telemetry quantity the device reports."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release links and threads. Idempotent."""

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# scheme -> "module:function" taking the URL and returning a Device; imported lazily.
BACKENDS: dict[str, str] = {
    "emu": "emulator.device:open_url",
    "axeos": "asic_bridge.api.backends:open_axeos",
    "cgminer": "asic_bridge.api.backends:open_cgminer",
    "goldshell": "asic_bridge.api.backends:open_goldshell",
    "serial": "asic_bridge.serial.driver:open_url",
}


def open_device(url: str, **kwargs: object) -> Device:
    """Open a device by URL, e.g. ``emu://lv06?serial=LV06-0001&seed=1``."""
    scheme = urlsplit(url).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        raise ValueError(f"no device backend for {url!r}; schemes: {sorted(BACKENDS)}")
    module_name, _, func_name = target.partition(":")
    opener = getattr(importlib.import_module(module_name), func_name)
    return opener(url, **kwargs)
