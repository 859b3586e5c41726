"""The base of every management-API backend: a poller thread, failure accounting and,
optionally, the Stratum pool the device's miner mines on.

Each backend implements two primitives: :meth:`PollingDevice._poll` (one telemetry
sample as readings) and :meth:`PollingDevice._apply_api_knob` (a knob through the API).
Everything else is here or in :class:`~asic_bridge.device.Device`:

* one poller thread at ``period_s``; each request has a deadline of ``timeout_s``
  (:mod:`asic_bridge.api.transport`), transport failures are retried ``retries`` times;
* every failed poll is counted (:attr:`~asic_bridge.device.Device.stats`), kept as
  :attr:`last_error`, logged (the first of a run at WARNING, the rest at DEBUG, the
  recovery at INFO) and emitted as a ``poll_failed``
  :class:`~asic_bridge.events.StatusEvent` (a run of identical failures folds into one
  event whose ``count`` grows), so it lands in the capture; it never stops the poller;
* :meth:`~asic_bridge.device.Device.health` says whether the device ever answered;
* with a pool (``stratum``), ``difficulty`` is a knob (control path ``pool``) and the
  miner's shares enter the stream under the device's id (:mod:`asic_bridge.miner_pool`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from asic_bridge.api.readings import Reading
from asic_bridge.device import Clock, Device, DeviceInfo
from asic_bridge.errors import (
    CommandRefused,
    DeviceError,
    DeviceTimeout,
    DeviceUnreachable,
    LinkError,
    ProtocolError,
    UnknownKnobError,
)
from asic_bridge.events import ControlEvent, TelemetryEvent
from asic_bridge.miner_pool import DEFAULT_CONNECT_TIMEOUT_S, MinerPool
from asic_bridge.models import DIFFICULTY, DeviceSpec

T = TypeVar("T")

log = logging.getLogger("hashrc.api")

STOPPED_AFTER_POLLS = 3
"""Failed polls in a row (and longer than ``restart_timeout_s``) after which a device
that answered before counts as stopped (:meth:`PollingDevice.failure`)."""

MANAGEMENT_API = "management API"
POOL = "pool"


class PollingDevice(Device):
    """A Device whose telemetry comes from polling an API in a background thread.

    ``period_s`` is the poll period in s, ``timeout_s`` the deadline of one request in s,
    ``retries`` the extra attempts after a transport failure (0.2 s apart),
    ``restart_timeout_s`` how long a knob that needs a firmware restart may take to be
    confirmed, s.
    """

    expects_answers = True
    API_KNOBS: ClassVar[tuple[str, ...]] = ()
    """Knobs this backend sets through its management API."""
    restart_settle_s: float = 0.0
    """Seconds from a knob change that needs a firmware restart (clock, voltage) until
    the device mines at the new value again; backends state their figure and source."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        spec: DeviceSpec,
        device_id: str,
        period_s: float,
        timeout_s: float = 3.0,
        retries: int = 2,
        restart_timeout_s: float = 60.0,
        clock: Clock | None = None,
        start: bool = True,
    ) -> None:
        if not (period_s > 0 and timeout_s > 0 and restart_timeout_s > 0):
            raise ValueError("period_s, timeout_s and restart_timeout_s must be positive")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        super().__init__(
            spec=spec, info=DeviceInfo(device_id=device_id, model=spec.model, serial="",
                                       firmware=""), clock=clock)
        self.host = host
        self.port = port
        self.period_s = float(period_s)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.restart_timeout_s = float(restart_timeout_s)
        self.pool: MinerPool | None = None
        self.measured_restart_s: float | None = None
        self._sampled = threading.Condition(threading.Lock())
        self._samples = 0
        self._failing = False
        self._failed_in_a_row = 0
        self._failing_since: float | None = None  # monotonic s of the first failed poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        if start:
            self.start()

    # -- Device interface -------------------------------------------------------------

    def control_path(self, knob: str) -> str:
        if knob == DIFFICULTY.name and self.pool is not None:
            return POOL
        if knob in self.API_KNOBS:
            return MANAGEMENT_API
        return super().control_path(knob)

    def failure(self) -> DeviceError | None:
        """A DeviceError once a device that answered before has failed
        :data:`STOPPED_AFTER_POLLS` polls in a row (each with its retries) for longer
        than ``restart_timeout_s`` (a firmware restart may keep it silent that long);
        None while it answers (or has never answered: :meth:`health` says that)."""
        if self._failed_in_a_row < STOPPED_AFTER_POLLS or not self.stats.get("samples", 0):
            return None
        since = time.monotonic() - (self._failing_since or time.monotonic())
        if since <= self.restart_timeout_s:
            return None
        return DeviceError(f"{self.info.device_id} stopped answering: {self._failed_in_a_row} "
                           f"polls in a row failed over {since:.1f} s (last: {self.last_error})")

    def settle_time_s(self, knob: str) -> float:
        """0 for a pool difficulty or a fan duty; :attr:`restart_settle_s` for a knob
        that needs a restart (see the backend)."""
        return self.restart_settle_s if knob in self.RESTART_KNOBS else 0.0

    RESTART_KNOBS: ClassVar[frozenset[str]] = frozenset()

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        if knob == DIFFICULTY.name:
            if self.pool is None:
                raise UnknownKnobError(
                    f"{self.info.device_id} has no difficulty knob without its pool: open it "
                    f"with ?stratum=LISTEN_HOST:PORT and point the miner there")
            applied = self.pool.set_difficulty(value)
            return self._record_control(knob, applied, DIFFICULTY.unit, value)
        if knob not in self.API_KNOBS:
            raise UnknownKnobError(f"{self.info.device_id} has no {knob!r} knob; it has: "
                                   f"{', '.join(self.knobs())}")
        return self._apply_api_knob(knob, value)

    def knobs(self) -> list[str]:
        """The knobs this device has (difficulty only with its pool)."""
        return sorted(set(self.API_KNOBS) | ({DIFFICULTY.name} if self.pool else set()))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=(self.retries + 1) * (self.timeout_s + 0.5) + 5.0)
        if self.pool is not None:
            self.pool.close()

    # -- opening -----------------------------------------------------------------------

    def open_checked(
        self,
        url: str,
        *,
        stratum: tuple[str, int] | None = None,
        difficulty: float | None = None,
        worker: str | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        before_wait: Callable[[], None] | None = None,
        start: bool = True,
    ) -> None:
        """What an opener does after construction (``start=False``): poll once (else
        DeviceUnreachable naming ``url`` and the cause), start the pool on ``stratum``
        and wait for its miner (``before_wait`` may point the miner there), then start
        the poller. Closes the device before raising. With ``start=False`` only the pool
        is started (no first poll, no wait, no poller)."""
        try:
            if start:
                self._failing = True  # a failure here is raised, not also logged
                try:
                    self.poll_now()
                except Exception as exc:
                    raise DeviceUnreachable(f"cannot reach {url}: {exc}") from None
                self._failing = False
            if stratum is not None:
                if difficulty is None:  # one share per second at the nominal hashrate
                    difficulty = self.spec.nominal_hashrate_ghs * 1e9 / 2.0**32
                self.pool = MinerPool(
                    stratum, device_id=self.info.device_id, sink=self._emit,
                    congested=self.is_congested,
                    difficulty=self.spec.check(DIFFICULTY.name, difficulty, DIFFICULTY.unit),
                    min_difficulty=self.spec.difficulty_range[0],
                    lbry=self.spec.algorithm == "lbry", worker=worker,
                ).start()
                if not start:
                    return
                if before_wait is not None:
                    before_wait()
                self.pool.wait_for_miner(connect_timeout_s)
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # -- polling ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the poller thread (done by the constructor unless ``start=False``)."""
        if self._thread is not None or self._closed:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"poll:{self.info.device_id}", daemon=True
        )
        self._thread.start()

    def poll_now(self) -> list[TelemetryEvent]:
        """Poll once in the caller's thread (with retries) and record the sample; raises
        the error of a failed poll after counting, logging and emitting it."""
        self._count("polls")
        try:
            readings = self._with_retries(self._poll)
        except Exception as exc:
            self._poll_failed(exc)
            raise
        return self._record_sample(readings)

    def wait_for_sample(self, timeout_s: float) -> bool:
        """Block until a sample is recorded after this call; False when ``timeout_s``
        passes first."""
        deadline = time.monotonic() + timeout_s
        with self._sampled:
            target = self._samples + 1
            while self._samples < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._sampled.wait(remaining):
                    return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):  # counted, logged and emitted by poll_now
                self.poll_now()
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - started)))

    def _with_retries(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except (DeviceTimeout, LinkError) as exc:
                if attempt >= self.retries or self._stop.is_set():
                    raise
                attempt += 1
                self._count("retries")
                self._count("timeouts" if isinstance(exc, DeviceTimeout) else "link_errors")
                self._stop.wait(0.2)

    def _poll_failed(self, exc: BaseException) -> None:
        if isinstance(exc, DeviceTimeout):
            kind = "timeouts"
        elif isinstance(exc, CommandRefused):
            kind = "refused"
        elif isinstance(exc, ProtocolError):
            kind = "protocol_errors"
        elif isinstance(exc, DeviceError):
            kind = "link_errors"
        else:
            kind = "internal_errors"  # a codec bug must not kill the poller silently
        detail = f"{type(exc).__name__}: {exc}"[:500]
        self._count(kind)
        self._count("poll_failures")
        self.last_error = exc
        self._failed_in_a_row += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        self._emit_status("poll_failed", detail)
        if not self._failing:
            log.warning("%s: poll failed: %s", self.info.device_id, detail)
        else:
            log.debug("%s: poll failed: %s", self.info.device_id, detail)
        self._failing = True

    def _record_sample(self, readings: list[Reading]) -> list[TelemetryEvent]:
        device = self.info.device_id
        t_ns = self.clock.now_ns()
        events = [TelemetryEvent(t_ns, device, r.quantity, r.value, r.unit, r.index)
                  for r in readings]
        self._emit_many(list(events))
        self._count("samples")
        self._failed_in_a_row = 0
        self._failing_since = None
        if self._failing:
            if self.stats.get("samples", 0) > 1:
                log.info("%s: answering again", device)
            self._failing = False
        with self._sampled:
            self._samples += 1
            self._sampled.notify_all()
        return events

    def _restarted(self, started_mono: float) -> None:
        """Count a restart that took from ``started_mono`` (monotonic s) until now."""
        self._count("restarts")
        self.measured_restart_s = time.monotonic() - started_mono

    def _wait_until(self, what: str, check: Callable[[], bool]) -> None:
        """Call ``check`` every 0.2 s until it is true (failures count as false) within
        ``restart_timeout_s``; DeviceTimeout otherwise."""
        deadline = time.monotonic() + self.restart_timeout_s
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (DeviceError, ProtocolError) as exc:
                last = exc
            if self._stop.wait(0.2):
                break
        raise DeviceTimeout(
            f"{self.info.device_id}: {what} not confirmed within {self.restart_timeout_s:g} s"
            + (f" (last error: {last})" if last else "")
        )

    # -- primitives --------------------------------------------------------------------

    @abstractmethod
    def _poll(self) -> list[Reading]:
        """One telemetry sample (may raise DeviceError/ProtocolError)."""

    @abstractmethod
    def _apply_api_knob(self, knob: str, value: float) -> ControlEvent:
        """Apply a checked API knob (one of :attr:`API_KNOBS`) and record its event."""


def pool_options(options: dict[str, Any]) -> dict[str, Any]:
    """Split the pool options (``stratum``, ``difficulty``, ``worker``,
    ``connect_timeout_s``) out of parsed URL options (removes them)."""
    return {key: options.pop(key) for key in ("stratum", "difficulty", "worker",
                                              "connect_timeout_s") if key in options}


def backend_kwargs(url: str, scheme: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any],
                                                                            dict[str, Any]]:
    """Parse ``url`` (the one parser) and merge ``kwargs`` (which win): the constructor
    keyword arguments and the pool options."""
    from asic_bridge.models import spec_for
    from asic_bridge.urls import parse_device_url

    parsed = parse_device_url(url, scheme=scheme)
    options = {**parsed.options, **kwargs}
    pool = pool_options(options)
    if "model" in options:
        options["spec"] = spec_for(str(options.pop("model")))
    options.update(host=parsed.target, port=parsed.port, device_id=parsed.device_id)
    return options, pool
