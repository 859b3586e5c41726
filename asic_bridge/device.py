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
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from asic_bridge.errors import DeviceError, UnknownKnobError
from asic_bridge.events import ControlEvent, Event, StatusEvent, TelemetryEvent
from asic_bridge.models import KNOBS, DeviceSpec


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


DEFAULT_MAX_QUEUED_EVENTS = 1_000_000
"""Events a device keeps for :meth:`Device.events` before it counts further ones as
dropped (a consumer drains every 0.1 s; a million events is minutes of any flood)."""

_INIT_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """How a device's link went: ``answered`` is False when a device that is polled never
    answered once (a capture of it means nothing); counters as in :attr:`Device.stats`."""

    answered: bool
    polls: int = 0
    samples: int = 0
    poll_failures: int = 0
    events_dropped: int = 0
    last_error: str | None = None

    def summary(self) -> str:
        """One line for a user, e.g. ``12 polls, 0 answered, 12 failed (last: ...)``."""
        text = (f"{self.polls} polls, {self.samples} answered, {self.poll_failures} failed"
                f", {self.events_dropped} events dropped")
        return text + (f" (last error: {self.last_error})" if self.last_error else "")


class Device(ABC):
    """One miner. The base owns what every backend shares: identity (:attr:`info`), the
    clock, a bounded thread-safe event queue fed by :meth:`_emit` and drained by
    :meth:`events`, the latest telemetry, counters, and the checks of :meth:`set_knob`.
    A backend implements only its primitives: :meth:`_apply_knob`, and whatever feeds
    :meth:`_emit` (a poller thread, a pool, a UART reader), as python-can's
    ``BusABC.recv`` wraps each interface's ``_recv_internal``.

    Backends that predate this base (they keep their own queue and override
    :meth:`events` / :meth:`read_telemetry` / :attr:`info` / :attr:`clock`) still work:
    the base state is created on first use when a subclass did not call ``__init__``.
    """

    spec: DeviceSpec
    expects_answers: bool = False
    """True for a device that must answer polls; :meth:`health` is then not ``answered``
    until one poll succeeded."""

    control_paths: ClassVar[Mapping[str, str]] = {}
    """Knob -> the path it goes through: ``pool`` (Stratum set_difficulty), ``management
    API``, ``chip UART``, ``simulation``. Reports name it."""

    def __init__(
        self,
        *,
        spec: DeviceSpec,
        info: DeviceInfo,
        clock: Clock | None = None,
        max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS,
    ) -> None:
        self.spec = spec
        self._info = info
        self._clock = clock or WallClock()
        self._init_stream(max_queued_events)

    # -- identity and clock --------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        """Identity of the device; ``info.device_id`` is the ``device`` of every event."""
        return self._info

    @property
    def clock(self) -> Clock:
        """The clock this device's timestamps are on."""
        return self._clock

    def _set_identity(self, *, serial: str, firmware: str, extra: dict[str, str]) -> None:
        """Fill in what the device reports about itself (the device id never changes)."""
        self._info = DeviceInfo(device_id=self._info.device_id, model=self.spec.model,
                                serial=serial, firmware=firmware, extra=extra)

    # -- knobs -----------------------------------------------------------------------------

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
        """Apply a validated knob value; record (:meth:`_record_control`) and return the
        control event."""

    def control_path(self, knob: str) -> str:
        """The path ``knob`` goes through (``pool``, ``management API``, ``chip UART``,
        ``simulation``); raises UnknownKnobError for a knob this device does not have."""
        path = self.control_paths.get(knob)
        if path is None and self.clock.simulated and knob in KNOBS:
            path = "simulation"
        if path is None:
            raise UnknownKnobError(f"{self.info.device_id} has no {knob!r} knob; it has: "
                                   f"{', '.join(sorted(self.control_paths)) or 'none'}")
        return path

    def settle_time_s(self, knob: str) -> float:
        """Seconds from a change of ``knob`` until the device runs at the new value again
        (e.g. a firmware restart); 0.0 when it applies within a poll."""
        return 0.0

    # -- the event stream --------------------------------------------------------------------

    def _init_stream(self, max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS) -> None:
        if max_queued_events < 1:
            raise ValueError(f"max_queued_events must be >= 1, got {max_queued_events}")
        self._base_lock = threading.Lock()
        self._base_queue: deque[Event] = deque()
        self._base_max_queued = int(max_queued_events)
        self._base_dropped = 0
        self._base_latest: dict[tuple[str, int | None], TelemetryEvent] = {}
        self._base_counters: Counter[str] = Counter()
        if "last_error" not in self.__dict__:
            self.last_error: BaseException | None = None

    def _stream(self) -> threading.Lock:
        if "_base_queue" not in self.__dict__:
            with _INIT_LOCK:
                if "_base_queue" not in self.__dict__:
                    self._init_stream()
        return self._base_lock

    def _emit(self, event: Event) -> None:
        """Queue one event for :meth:`events` (any thread). Past the bound it is counted
        as dropped and the next drain starts with a ``events_dropped`` StatusEvent."""
        with self._stream():
            self._emit_locked(event)

    def _emit_many(self, events: list[Event]) -> None:
        with self._stream():
            for event in events:
                self._emit_locked(event)

    def _emit_locked(self, event: Event) -> None:
        if isinstance(event, TelemetryEvent):
            self._base_latest[(event.quantity, event.index)] = event
        if len(self._base_queue) >= self._base_max_queued:
            self._base_dropped += 1
            self._base_counters["events_dropped"] += 1
            return
        self._base_queue.append(event)

    def _emit_status(self, status: str, detail: str = "") -> StatusEvent:
        """Queue a StatusEvent; a repeat of the last queued one (same status and detail)
        is folded into it (its ``count`` grows) instead of queued again."""
        with self._stream():
            last = self._base_queue[-1] if self._base_queue else None
            if (isinstance(last, StatusEvent) and last.status == status
                    and last.detail == detail):
                folded = StatusEvent(last.t_ns, last.device, status, detail, last.count + 1)
                self._base_queue[-1] = folded
                return folded
            event = StatusEvent(self._clock.now_ns(), self._info.device_id, status, detail)
            self._emit_locked(event)
            return event

    def _record_control(
        self, knob: str, value: float, unit: str, requested: float | None
    ) -> ControlEvent:
        """Emit and return the control event of an applied knob change."""
        event = ControlEvent(self._clock.now_ns(), self._info.device_id, knob, float(value),
                             unit, requested)
        with self._stream():
            self._emit_locked(event)
            self._base_counters["controls"] += 1
        return event

    def _count(self, name: str, n: int = 1) -> None:
        with self._stream():
            self._base_counters[name] += n

    def events(self) -> Iterator[Event]:
        """Drain the events produced since the last call, in host-time order. Never blocks."""
        with self._stream():
            drained = list(self._base_queue)
            self._base_queue.clear()
            dropped, self._base_dropped = self._base_dropped, 0
        drained.sort(key=lambda e: e.t_ns)
        if dropped:
            drained.insert(0, StatusEvent(
                self._clock.now_ns(), self._info.device_id, "events_dropped",
                f"{dropped} events dropped: the event queue holds at most {self._base_max_queued}",
                dropped))
        return iter(drained)

    def queued_events(self) -> int:
        """Events waiting for :meth:`events` (at most ``max_queued_events``)."""
        with self._stream():
            return len(self._base_queue)

    def is_congested(self) -> bool:
        """True while half the event queue's bound or more waits: a producer that can
        hold back (a pool reading from its miner) should pause until it turns false,
        rather than have events dropped at the bound."""
        with self._stream():
            return 2 * len(self._base_queue) >= self._base_max_queued

    def read_telemetry(self) -> list[TelemetryEvent]:
        """The latest sample of each telemetry quantity the device reports."""
        with self._stream():
            return list(self._base_latest.values())

    @property
    def stats(self) -> dict[str, int]:
        """Counters (e.g. ``polls``, ``samples``, ``poll_failures``, ``controls``,
        ``events_dropped``; backends add their own)."""
        with self._stream():
            return dict(self._base_counters)

    def health(self) -> DeviceHealth:
        """Whether the device answered, with its failure counters (see DeviceHealth)."""
        counters = self.stats
        last = getattr(self, "last_error", None)
        return DeviceHealth(
            answered=counters.get("samples", 0) > 0 or not self.expects_answers,
            polls=counters.get("polls", 0),
            samples=counters.get("samples", 0),
            poll_failures=counters.get("poll_failures", 0),
            events_dropped=counters.get("events_dropped", 0),
            last_error=None if last is None else str(last),
        )

    def failure(self) -> DeviceError | None:
        """Why the device stopped working during a run (a link closed for good, a device
        that stopped answering its polls), or None while it works. A recording of a
        failed device is incomplete; backends that can fail override this."""
        return None

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release links and threads. Idempotent."""

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# scheme -> "module:function" taking the URL and returning a Device; imported lazily.
BACKENDS: dict[str, str] = {
    "emu": "emulator.device:open_url",
    "axeos": "asic_bridge.api.axeos_device:open_axeos",
    "cgminer": "asic_bridge.api.cgminer_device:open_cgminer",
    "goldshell": "asic_bridge.api.goldshell_device:open_goldshell",
    "serial": "asic_bridge.serial.driver:open_url",
}


def open_device(url: str, **kwargs: object) -> Device:
    """Open a device by URL, e.g. ``emu://lv06?serial=LV06-0001&seed=1`` or
    ``axeos://10.0.0.5?stratum=0.0.0.0:3333``. The URL is checked first
    (:func:`asic_bridge.urls.parse_device_url`: unknown options are refused) and a bare
    model name (``lv06``) means ``emu://MODEL``. Raises UrlError for a bad URL and
    DeviceError (e.g. DeviceUnreachable) when the device cannot be opened."""
    from asic_bridge.urls import parse_device_url

    if "://" not in url and url.strip().lower() in _models():
        url = f"emu://{url.strip().lower()}"
    scheme = parse_device_url(url).scheme
    target = BACKENDS[scheme]
    module_name, _, func_name = target.partition(":")
    opener = getattr(importlib.import_module(module_name), func_name)
    return opener(url, **kwargs)


def _models() -> set[str]:
    from asic_bridge.models import SPECS

    return set(SPECS)
