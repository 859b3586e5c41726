"""Device backends over the management APIs, opened by URL.

=====================================  ============================  =====================
URL                                    opener                        default model, period
=====================================  ============================  =====================
``axeos://HOST[:PORT]``                :func:`open_axeos`            lv06, 2 s
``cgminer://HOST[:PORT]`` (4028)       :func:`open_cgminer`          s9, 5 s
``goldshell://HOST[:PORT]``            :func:`open_goldshell`        lbbox, 5 s
=====================================  ============================  =====================

Query parameters (and keyword arguments, which win): ``model`` (``lv06``, ``s9``,
``lbbox``), ``period_s`` (poll period), ``timeout_s`` (per request), ``retries`` (extra
attempts after a timeout or a dropped connection), ``restart_timeout_s`` (how long a
clock change may take to come back from the reboot it needs); Goldshell also
``username``/``password``.

Polling pace, chosen per firmware: AxeOS 2 s (its info object is recomputed every few
seconds; faster polling mostly repeats values and loads the ESP32's small web server);
cgminer/bmminer 5 s (its shortest hashrate window is "GHS 5s"); Goldshell 5 s (same
cgminer-derived 5 s window behind ``/mcb/cgminer``).

Each backend runs one poller thread. A failed poll (timeout, refused or dropped
connection, malformed JSON, a refused command) is counted in :attr:`PollingDevice.stats`,
kept as :attr:`PollingDevice.last_error`, retried up to ``retries`` times when it is a
transport failure, and never stops the poller; every request uses a fresh connection,
so a rebooted device is picked up by the next poll. Events wait in an unbounded queue
until :meth:`~asic_bridge.device.Device.events` drains them: nothing is dropped.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from asic_bridge.api import axeos, cgminer, goldshell
from asic_bridge.api.readings import Reading, json_object, reading
from asic_bridge.api.transport import (
    DeviceTimeout,
    HttpJsonClient,
    HttpStatusError,
    LinkError,
    tcp_request,
)
from asic_bridge.device import Clock, Device, DeviceInfo, WallClock
from asic_bridge.errors import DeviceError, ProtocolError, UnknownKnobError
from asic_bridge.events import ControlEvent, Event, TelemetryEvent
from asic_bridge.models import DeviceSpec, spec_for

T = TypeVar("T")


class PollingDevice(Device):
    """A Device whose telemetry comes from polling an API in a background thread.

    Subclasses implement :meth:`_poll` (one sample as readings) and :meth:`_apply_knob`.
    ``period_s`` is the poll period in s, ``timeout_s`` the per-request timeout in s,
    ``retries`` the extra attempts after a transport failure (0.2 s apart).
    """

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
        if period_s <= 0 or timeout_s <= 0 or restart_timeout_s <= 0:
            raise ValueError("period_s, timeout_s and restart_timeout_s must be positive")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.host = host
        self.port = port
        self.spec = spec
        self.period_s = float(period_s)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.restart_timeout_s = float(restart_timeout_s)
        self._clock = clock or WallClock()
        self._info = DeviceInfo(device_id=device_id, model=spec.model, serial="", firmware="")
        self._lock = threading.Lock()
        self._sampled = threading.Condition(self._lock)
        self._queue: deque[Event] = deque()
        self._latest: dict[tuple[str, int | None], TelemetryEvent] = {}
        self._counters: Counter[str] = Counter()
        self._samples = 0
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        if start:
            self.start()

    # -- Device interface -------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        return self._info

    @property
    def clock(self) -> Clock:
        return self._clock

    def events(self) -> Iterator[Event]:
        with self._lock:
            drained = list(self._queue)
            self._queue.clear()
        return iter(drained)

    def read_telemetry(self) -> list[TelemetryEvent]:
        with self._lock:
            return list(self._latest.values())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=(self.retries + 1) * (self.timeout_s + 0.5) + 5.0)

    # -- polling ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the poller thread (done by the constructor unless ``start=False``)."""
        if self._thread is not None or self._closed:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"poll:{self._info.device_id}", daemon=True
        )
        self._thread.start()

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``polls``, ``samples``, ``timeouts``, ``link_errors``,
        ``protocol_errors``, ``refused``, ``retries``, ``poll_failures``."""
        with self._lock:
            return dict(self._counters)

    def poll_now(self) -> list[TelemetryEvent]:
        """Poll once in the caller's thread (with retries) and record the sample;
        raises the DeviceError/ProtocolError of a failed poll after counting it."""
        with self._lock:
            self._counters["polls"] += 1
        try:
            readings = self._with_retries(self._poll)
        except (DeviceError, ProtocolError) as exc:
            self._count_failure(exc)
            raise
        return self._record_sample(readings)

    def wait_for_sample(self, timeout_s: float) -> bool:
        """Block until a sample is recorded after this call; False when ``timeout_s``
        passes first."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            target = self._samples + 1
            while self._samples < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._sampled.wait(remaining):
                    return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_now()
            except (DeviceError, ProtocolError):
                pass  # counted; the poller keeps going
            except Exception as exc:  # a bug must not kill the poller silently
                self._count_failure(exc)
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
                kind = "timeouts" if isinstance(exc, DeviceTimeout) else "link_errors"
                with self._lock:
                    self._counters["retries"] += 1
                    self._counters[kind] += 1
                self._stop.wait(0.2)

    def _count_failure(self, exc: BaseException) -> None:
        if isinstance(exc, DeviceTimeout):
            kind = "timeouts"
        elif isinstance(exc, cgminer.CommandRefused):
            kind = "refused"
        elif isinstance(exc, ProtocolError):
            kind = "protocol_errors"
        elif isinstance(exc, DeviceError):
            kind = "link_errors"
        else:
            kind = "internal_errors"
        with self._lock:
            self._counters[kind] += 1
            self._counters["poll_failures"] += 1
            self.last_error = exc

    def _record_sample(self, readings: list[Reading]) -> list[TelemetryEvent]:
        device = self._info.device_id
        with self._lock:
            t_ns = self._clock.now_ns()
            events = [
                TelemetryEvent(t_ns, device, r.quantity, r.value, r.unit, r.index) for r in readings
            ]
            for event in events:
                self._latest[(event.quantity, event.index)] = event
            self._queue.extend(events)
            self._counters["samples"] += 1
            self._samples += 1
            self._sampled.notify_all()
        return events

    def _record_control(
        self, knob: str, value: float, unit: str, requested: float | None
    ) -> ControlEvent:
        with self._lock:
            event = ControlEvent(
                self._clock.now_ns(), self._info.device_id, knob, float(value), unit, requested
            )
            self._queue.append(event)
            self._counters["controls"] += 1
        return event

    def _set_identity(self, *, serial: str, firmware: str, extra: dict[str, str]) -> None:
        self._info = DeviceInfo(
            device_id=self._info.device_id,
            model=self.spec.model,
            serial=serial,
            firmware=firmware,
            extra=extra,
        )

    def _wait_until(self, what: str, check: Callable[[], bool]) -> None:
        """Call ``check`` every 0.2 s until it is true (failures count as false) within
        ``restart_timeout_s``; DeviceError otherwise."""
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
            f"{self._info.device_id}: {what} not confirmed within {self.restart_timeout_s:g} s"
            + (f" (last error: {last})" if last else "")
        )

    @abstractmethod
    def _poll(self) -> list[Reading]:
        """One telemetry sample (may raise DeviceError/ProtocolError)."""


# -- AxeOS ----------------------------------------------------------------------------


class AxeOSDevice(PollingDevice):
    """An ESP-Miner board (BitAxe, Lucky Miner LV06) through its HTTP API.

    ``frequency`` (MHz) and ``core_voltage`` (mV) are PATCHed and take effect after the
    restart the firmware needs, which this backend requests and waits for; the control
    event then carries the value the device reports. ``fan`` (%) is PATCHed with automatic
    fan control off and applies at once.
    """

    def __init__(self, *, host: str, port: int = axeos.DEFAULT_PORT, **kwargs: Any) -> None:
        kwargs.setdefault("spec", spec_for("lv06"))
        kwargs.setdefault("period_s", 2.0)
        kwargs.setdefault("device_id", f"axeos://{host}:{port}")
        self._http = HttpJsonClient(host, port, timeout_s=kwargs.get("timeout_s", 3.0))
        super().__init__(host=host, port=port, **kwargs)

    def system_info(self) -> dict[str, Any]:
        """``GET /api/system/info`` decoded."""
        return self._http.get_json(axeos.INFO_PATH)

    def _poll(self) -> list[Reading]:
        info = self.system_info()
        if not self._info.serial:
            ident = axeos.identity(info)
            self._set_identity(
                serial=ident.mac or ident.hostname,
                firmware=ident.version,
                extra={"asic_model": ident.asic_model, "miner_model": ident.miner_model,
                       "hostname": ident.hostname},
            )
        return axeos.parse_info(info)

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        if knob == "fan":
            body = axeos.patch_body(fan_pct=value)
            self._with_retries(lambda: self._http.request("PATCH", axeos.SYSTEM_PATH, body))
            applied = axeos.parse_info(self.system_info())
            fan = next((r.value for r in applied if r.quantity == "fan"), round(value))
            return self._record_control(knob, fan, "%", value)
        if knob == "frequency":
            body, key, unit = axeos.patch_body(frequency_mhz=value), "frequency", "MHz"
        elif knob == "core_voltage":
            body, key, unit = axeos.patch_body(core_voltage_mv=value), "coreVoltage", "mV"
        else:
            raise UnknownKnobError(f"AxeOS has no {knob!r} knob (difficulty is the pool's)")
        target = round(value)
        self._with_retries(lambda: self._http.request("PATCH", axeos.SYSTEM_PATH, body))
        self._with_retries(lambda: self._http.request("POST", axeos.RESTART_PATH, b""))
        with self._lock:
            self._counters["restarts"] += 1
        seen: dict[str, float] = {}

        def applied() -> bool:
            info = self.system_info()
            seen["value"] = float(info.get(key, float("nan")))
            return seen["value"] == target

        self._wait_until(f"{knob} {target} {unit} after restart", applied)
        return self._record_control(knob, seen["value"], unit, value)


# -- cgminer / bmminer ------------------------------------------------------------------


class CgminerDevice(PollingDevice):
    """A cgminer-family API on TCP 4028 (Antminer S9 bmminer by default).

    Polls ``summary+stats+devs`` in one request. Knobs use cgminer's ``ascset`` write
    command (``0,freq,<MHz>``, ``0,volt,<mV>``, ``0,fan,<%>``; needs api-allow W) and a
    ``restart`` for clock and voltage; stock bmminer refuses ``ascset``, which surfaces
    as :class:`~asic_bridge.api.cgminer.CommandRefused`.
    """

    POLL_COMMANDS = ("summary", "stats", "devs")

    def __init__(self, *, host: str, port: int = cgminer.DEFAULT_PORT, **kwargs: Any) -> None:
        kwargs.setdefault("spec", spec_for("s9"))
        kwargs.setdefault("period_s", 5.0)
        kwargs.setdefault("device_id", f"cgminer://{host}:{port}")
        super().__init__(host=host, port=port, **kwargs)

    def command(self, commands: str | tuple[str, ...], parameter: str | None = None
                ) -> dict[str, dict[str, Any]]:
        """Send one (or a ``+``-joined) command; per-command replies, STATUS checked."""
        names = [commands] if isinstance(commands, str) else list(commands)
        names = [n for name in names for n in name.split("+")]
        data = tcp_request(self.host, self.port, cgminer.encode_request(names, parameter),
                           timeout_s=self.timeout_s)
        replies = cgminer.split_replies(cgminer.decode_reply(data), names)
        for name, reply in replies.items():
            cgminer.check_status(reply, name)
        return replies

    def _poll(self) -> list[Reading]:
        replies = self.command(self.POLL_COMMANDS)
        out = cgminer.parse_summary(replies["summary"])
        stats = cgminer.parse_stats(replies["stats"])
        out.extend(stats)
        if not any(r.quantity == "chain_hashrate" for r in stats):
            out.extend(cgminer.parse_devs(replies["devs"]))
        if not self._info.serial:
            info = cgminer.stats_info(replies["stats"])
            self._set_identity(
                serial=f"{self.host}:{self.port}",
                firmware=str(replies["stats"].get("STATUS", [{}])[0].get("Description", "")),
                extra={"miner_type": info.miner_type or "",
                       "chain_slots": ",".join(map(str, info.chain_slots))},
            )
        return out

    def _frequency(self) -> float | None:
        readings = cgminer.parse_stats(self.command("stats")["stats"])
        return next((r.value for r in readings if r.quantity == "frequency"), None)

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        option = {"frequency": "freq", "core_voltage": "volt", "fan": "fan"}.get(knob)
        if option is None:
            raise UnknownKnobError(f"cgminer API has no {knob!r} knob")
        unit = {"frequency": "MHz", "core_voltage": "mV", "fan": "%"}[knob]
        target = round(value)
        self._with_retries(lambda: self.command("ascset", f"0,{option},{target}"))
        if knob == "fan":
            return self._record_control(knob, target, unit, value)
        self._with_retries(lambda: self.command("restart"))
        with self._lock:
            self._counters["restarts"] += 1
        if knob == "frequency":
            seen: dict[str, float | None] = {}

            def applied() -> bool:
                seen["value"] = self._frequency()
                return seen["value"] == target

            self._wait_until(f"frequency {target} MHz after restart", applied)
            return self._record_control(knob, float(seen["value"] or target), unit, value)
        self._wait_until("API back after restart", lambda: bool(self.command("summary")))
        return self._record_control(knob, target, unit, value)


# -- Goldshell ---------------------------------------------------------------------------


class GoldshellDevice(PollingDevice):
    """A Goldshell miner (LB-Box) through its web API.

    Logs in for a JWT (again after a 401), polls ``/mcb/cgminer?cgminercmd=devs`` and
    ``/mcb/setting`` (the selected power plan gives ``frequency`` and ``core_voltage``).
    ``frequency`` selects the power plan with the nearest clock (the control event's value
    is that plan's clock); ``fan`` (%) sets a manual fan duty; the core voltage follows
    the plan and is no knob of its own.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = goldshell.DEFAULT_PORT,
        username: str = "admin",
        password: str = "123456789",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("spec", spec_for("lbbox"))
        kwargs.setdefault("period_s", 5.0)
        kwargs.setdefault("device_id", f"goldshell://{host}:{port}")
        self._http = HttpJsonClient(host, port, timeout_s=kwargs.get("timeout_s", 3.0))
        self._username = username
        self._password = password
        self._token: str | None = None
        self._token_lock = threading.Lock()
        super().__init__(host=host, port=port, **kwargs)

    def _login(self) -> str:
        doc = self._http.get_json(goldshell.login_path(self._username, self._password))
        return goldshell.parse_login(doc)

    def _authed(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        for attempt in range(2):
            with self._token_lock:
                if self._token is None:
                    self._token = self._login()
                token = self._token
            try:
                data = self._http.request(method, path, body, goldshell.auth_header(token))
            except HttpStatusError as exc:
                if exc.status == 401 and attempt == 0:
                    with self._token_lock:
                        self._token = None
                    continue
                raise
            return json_object(data, what=f"{method} {path}") if data.strip() else {}
        raise DeviceError(f"{self._info.device_id}: login not accepted")

    def status(self) -> dict[str, Any]:
        """``GET /mcb/status`` (no token needed)."""
        return self._http.get_json(goldshell.STATUS_PATH)

    def _poll(self) -> list[Reading]:
        if not self._info.serial:
            status = goldshell.parse_status(self.status())
            self._set_identity(
                serial=status.get("serial", status.get("sn", "")) or f"{self.host}:{self.port}",
                firmware=status.get("firmware", ""),
                extra={"model": status.get("model", "")},
            )
        out = goldshell.parse_devs(self._authed("GET", goldshell.DEVS_PATH))
        plans, select = goldshell.parse_setting(self._authed("GET", goldshell.SETTING_PATH))
        plan = plans[select]
        if plan.freq_mhz is not None:
            out.append(reading("frequency", plan.freq_mhz))
        if plan.volt_mv is not None:
            out.append(reading("core_voltage", plan.volt_mv))
        return out

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        setting = self._with_retries(lambda: self._authed("GET", goldshell.SETTING_PATH))
        if knob == "frequency":
            plans, _ = goldshell.parse_setting(setting)
            index = goldshell.nearest_plan(plans, value)
            body = goldshell.setting_body(setting, select=index)
            self._with_retries(lambda: self._authed("PUT", goldshell.SETTING_PATH, body))
            plans, select = goldshell.parse_setting(self._authed("GET", goldshell.SETTING_PATH))
            if select != index:
                raise DeviceError(f"{self._info.device_id}: power plan {index} not applied")
            return self._record_control(knob, plans[select].freq_mhz or value, "MHz", value)
        if knob == "fan":
            body = goldshell.setting_body(setting, fan_pct=value)
            self._with_retries(lambda: self._authed("PUT", goldshell.SETTING_PATH, body))
            return self._record_control(knob, round(value), "%", value)
        raise UnknownKnobError(
            f"Goldshell has no {knob!r} knob: the core voltage follows the power plan"
        )


# -- openers ---------------------------------------------------------------------------

_NUMERIC = {"period_s": float, "timeout_s": float, "restart_timeout_s": float, "retries": int}


def _parse_url(url: str, scheme: str, default_port: int, kwargs: dict[str, Any]
               ) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != scheme or not parts.hostname:
        raise ValueError(f"expected {scheme}://HOST[:PORT], got {url!r}")
    port = parts.port or default_port
    options: dict[str, Any] = {}
    for key, text in parse_qsl(parts.query, keep_blank_values=False):
        if key in _NUMERIC:
            options[key] = _NUMERIC[key](text)
        elif key == "model":
            options["spec"] = spec_for(text)
        elif key in ("username", "password") and scheme == "goldshell":
            options[key] = text
        else:
            raise ValueError(f"unknown option {key!r} in {url!r}")
    if "model" in kwargs:
        kwargs = {**kwargs, "spec": spec_for(str(kwargs.pop("model")))}
    return {"host": parts.hostname, "port": port,
            "device_id": f"{scheme}://{parts.hostname}:{port}", **options, **kwargs}


def open_axeos(url: str, **kwargs: Any) -> AxeOSDevice:
    """Open ``axeos://HOST[:PORT][?model=lv06&period_s=2&timeout_s=3&retries=2]``."""
    return AxeOSDevice(**_parse_url(url, "axeos", axeos.DEFAULT_PORT, kwargs))


def open_cgminer(url: str, **kwargs: Any) -> CgminerDevice:
    """Open ``cgminer://HOST[:4028][?model=s9&period_s=5&timeout_s=3&retries=2]``."""
    return CgminerDevice(**_parse_url(url, "cgminer", cgminer.DEFAULT_PORT, kwargs))


def open_goldshell(url: str, **kwargs: Any) -> GoldshellDevice:
    """Open ``goldshell://HOST[:PORT][?model=lbbox&password=...&period_s=5]``."""
    return GoldshellDevice(**_parse_url(url, "goldshell", goldshell.DEFAULT_PORT, kwargs))
