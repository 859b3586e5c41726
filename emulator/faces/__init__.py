"""The emulator's faces: servers that speak a device's own protocols on loopback.

The management-API faces (:mod:`emulator.faces.http_api` for AxeOS,
:mod:`emulator.faces.cgminer_api` for cgminer/bmminer TCP 4028,
:mod:`emulator.faces.goldshell_api` for Goldshell HTTP) answer with the fields real
firmware returns, read from a :class:`ModelSnapshotSource`. Firmware behaviour (settings
stored until the restart that applies them, the reboot during which nothing answers)
lives in the faces; physics lives behind the source. So does the firmware's input
checking: each face refuses or clamps a setting as its firmware does (see the faces'
docstrings for the source each follows) and never lets a value break it.

Every face shuts down within about a second of :meth:`ServerFace.close`, whatever its
clients do: open connections are tracked and shut down on close (an idle keep-alive HTTP
client or a half-sent cgminer request no longer holds a handler thread), idle
connections time out on their own, and the number of open connections is bounded.
"""

from __future__ import annotations

import contextlib
import math
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NotRequired, Protocol, Self, TypedDict, runtime_checkable


class ChainSnapshot(TypedDict):
    """One hash board (chain): GH/s, chips answering, degC, MHz, error counter."""

    hashrate_ghs: float
    chips: int
    chip_temp_c: float
    board_temp_c: float
    frequency_mhz: float
    hw_errors: int


class Snapshot(TypedDict):
    """What a device's firmware could report at one instant. Units in the names:
    GH/s, W, mV, mA, degC, rpm, %, MHz, s; counters are plain counts."""

    model: str  # "lv06", "s9", "lbbox"
    hashrate_ghs: float  # short window
    hashrate_avg_ghs: float  # since start
    power_w: float
    input_voltage_mv: float
    input_current_ma: float
    chip_temps_c: list[float]  # one per chip
    vr_temp_c: float
    fan_rpm: list[float]  # one per fan
    fan_pct: float
    frequency_mhz: float  # running clock
    core_voltage_mv: float  # set point
    core_voltage_actual_mv: float  # measured
    shares_accepted: int
    shares_rejected: int
    hw_errors: int
    best_diff: float
    uptime_s: float
    chains: list[ChainSnapshot]
    overheat_mode: NotRequired[bool]  # the firmware's overheat protection holds


@runtime_checkable
class ModelSnapshotSource(Protocol):
    """What a face needs from a device model. Setters act on the modelled device at
    once; the faces call them when the firmware would (a clock after a restart)."""

    def snapshot(self) -> Snapshot:
        """The device's state now."""
        ...

    def set_frequency_mhz(self, mhz: float) -> None:
        """Run the chips at ``mhz`` MHz."""
        ...

    def set_core_voltage_mv(self, mv: float) -> None:
        """Set the core (S9: chain) voltage to ``mv`` mV."""
        ...

    def set_fan_pct(self, pct: float) -> None:
        """Drive the fans at ``pct`` % duty."""
        ...

    def restart(self) -> None:
        """The firmware rebooted: uptime and session counters start again."""
        ...


@dataclass
class StaticSnapshotSource:
    """A deterministic stand-in for the physics model, for tests and demos.

    Hashrate = MHz x small cores x chips / 1000 GH/s; power scales with f x V^2 from
    ``power_w`` at ``frequency_mhz``/``core_voltage_mv``; temperatures and fan speeds are
    fixed; uptime counts from construction or the last restart.
    """

    model: str = "lv06"
    frequency_mhz: float = 485.0
    core_voltage_mv: float = 1200.0
    chains: int = 1
    chips_per_chain: int = 1
    small_cores_per_chip: int = 894
    power_w: float = 13.0
    chip_temp_c: float = 58.0
    board_temp_c: float = 49.0
    vr_temp_c: float = 52.0
    fans: int = 1
    fan_rpm_at_full: float = 6000.0
    fan_pct: float = 75.0
    input_voltage_mv: float = 5000.0
    shares_accepted: int = 42
    shares_rejected: int = 1
    hw_errors: int = 3
    best_diff: float = 618e6
    restarts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _start: float = field(default_factory=time.monotonic, repr=False)
    _power_ref: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), repr=False)

    def __post_init__(self) -> None:
        self._power_ref = (self.power_w, self.frequency_mhz, self.core_voltage_mv)

    @classmethod
    def for_model(cls, model: str) -> StaticSnapshotSource:
        """Defaults of ``lv06``, ``s9`` or ``lbbox`` (from :mod:`asic_bridge.models`)."""
        from asic_bridge.models import spec_for

        spec = spec_for(model)
        common = dict(
            model=spec.model,
            frequency_mhz=spec.default_frequency_mhz,
            core_voltage_mv=spec.default_core_mv,
            chains=spec.chains,
            chips_per_chain=spec.chips_per_chain,
            small_cores_per_chip=spec.small_cores_per_chip,
            power_w=spec.nominal_power_w,
        )
        if spec.model == "s9":
            return cls(**common, chip_temp_c=72.0, board_temp_c=61.0, vr_temp_c=0.0, fans=2,
                       input_voltage_mv=12_000.0, best_diff=4.29e9)
        if spec.model == "lbbox":
            return cls(**common, chip_temp_c=83.0, board_temp_c=73.8, vr_temp_c=0.0, fans=2,
                       input_voltage_mv=12_000.0, best_diff=0.0)
        return cls(**common)

    def snapshot(self) -> Snapshot:
        with self._lock:
            chips = self.chains * self.chips_per_chain
            rate = self.frequency_mhz * self.small_cores_per_chip * chips / 1000.0
            p0, f0, v0 = self._power_ref
            power = p0 * (self.frequency_mhz / f0) * (self.core_voltage_mv / v0) ** 2
            per_chain = rate / self.chains
            return Snapshot(
                model=self.model,
                hashrate_ghs=rate,
                hashrate_avg_ghs=rate,
                power_w=power,
                input_voltage_mv=self.input_voltage_mv,
                input_current_ma=power / self.input_voltage_mv * 1e6,
                chip_temps_c=[self.chip_temp_c] * chips,
                vr_temp_c=self.vr_temp_c,
                fan_rpm=[self.fan_rpm_at_full * self.fan_pct / 100.0] * self.fans,
                fan_pct=self.fan_pct,
                frequency_mhz=self.frequency_mhz,
                core_voltage_mv=self.core_voltage_mv,
                core_voltage_actual_mv=self.core_voltage_mv - 12.0,
                shares_accepted=self.shares_accepted,
                shares_rejected=self.shares_rejected,
                hw_errors=self.hw_errors,
                best_diff=self.best_diff,
                uptime_s=time.monotonic() - self._start,
                chains=[
                    ChainSnapshot(
                        hashrate_ghs=per_chain,
                        chips=self.chips_per_chain,
                        chip_temp_c=self.chip_temp_c,
                        board_temp_c=self.board_temp_c,
                        frequency_mhz=self.frequency_mhz,
                        hw_errors=self.hw_errors // self.chains,
                    )
                    for _ in range(self.chains)
                ],
            )

    def set_frequency_mhz(self, mhz: float) -> None:
        with self._lock:
            self.frequency_mhz = float(mhz)

    def set_core_voltage_mv(self, mv: float) -> None:
        with self._lock:
            self.core_voltage_mv = float(mv)

    def set_fan_pct(self, pct: float) -> None:
        with self._lock:
            self.fan_pct = float(pct)

    def restart(self) -> None:
        with self._lock:
            self._start = time.monotonic()
            self.restarts += 1


@dataclass
class FaultConfig:
    """Faults a face injects, changeable while it runs: ``delay_s`` (s) before every
    reply (longer than the client's timeout = a timeout), ``malformed`` (reply with
    truncated JSON), ``drop`` (close the connection without a reply)."""

    delay_s: float = 0.0
    malformed: bool = False
    drop: bool = False


BootRule = Callable[[str, float], float | None]
"""``rule(key, stored)``: the value the firmware applies at boot for a stored setting
(``frequency_mhz`` or ``core_voltage_mv``), or None when its hardware refuses it and keeps
what it runs."""


def apply_as_stored(_key: str, value: float) -> float | None:
    """A :data:`BootRule` that applies every stored value as it is."""
    return value


class FirmwareState:
    """Settings stored by the firmware until a restart applies them, and the reboot
    window during which the device answers nothing. ``boot`` says what the firmware does
    with a stored value at boot (the PLL search, a regulator's range). Thread-safe."""

    def __init__(self, source: ModelSnapshotSource, *, restart_s: float,
                 boot: BootRule = apply_as_stored) -> None:
        if restart_s < 0:
            raise ValueError(f"restart_s must be >= 0, got {restart_s}")
        self.source = source
        self.restart_s = restart_s
        self.boot = boot
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._nvs: dict[str, float] = {}  # every value ever stored (the firmware's NVS)
        self._down_until = 0.0
        self.restarts = 0

    def store(self, key: str, value: float) -> None:
        """Store ``frequency_mhz`` or ``core_voltage_mv`` for the next restart."""
        if key not in ("frequency_mhz", "core_voltage_mv"):
            raise ValueError(f"not a stored setting: {key}")
        if not math.isfinite(value):
            raise ValueError(f"{key}: refusing to store a non-finite {value!r}")
        with self._lock:
            self._pending[key] = float(value)
            self._nvs[key] = float(value)

    def stored(self, key: str, default: float) -> float:
        """The stored value of a setting (what the firmware boots with next), or
        ``default`` if none was ever stored."""
        with self._lock:
            return self._nvs.get(key, default)

    def restart(self) -> None:
        """Begin a reboot: apply stored settings to the model, be down for restart_s."""
        with self._lock:
            pending = dict(self._pending)
            self._pending.clear()
            self._down_until = time.monotonic() + self.restart_s
            self.restarts += 1
        for key, setter in (("frequency_mhz", self.source.set_frequency_mhz),
                            ("core_voltage_mv", self.source.set_core_voltage_mv)):
            if key in pending:
                value = self.boot(key, pending[key])
                if value is not None and math.isfinite(value):
                    setter(value)
        self.source.restart()

    @property
    def rebooting(self) -> bool:
        """True while the device is down for its restart."""
        with self._lock:
            return time.monotonic() < self._down_until


def finite_json(doc: Any) -> Any:
    """``doc`` with every non-finite float replaced by None, so that a reply is always
    valid JSON (firmware never sends NaN; a model value that is one must not break it)."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite_json(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [finite_json(v) for v in doc]
    return doc


MAX_CONNECTIONS = 32
"""Open connections a face serves at once; more are closed at accept (bounded threads)."""


class TrackingServerMixin:
    """A socketserver mixin that knows its open connections, refuses more than
    ``max_connections``, and can shut them all down so their handlers return at once."""

    max_connections = MAX_CONNECTIONS

    def _tracking(self) -> tuple[threading.Lock, set[socket.socket]]:
        if not hasattr(self, "_open_lock"):
            self._open_lock = threading.Lock()
            self._open: set[socket.socket] = set()
        return self._open_lock, self._open

    def verify_request(self, request: Any, client_address: Any) -> bool:
        lock, live = self._tracking()
        with lock:
            if len(live) >= self.max_connections:
                return False
            live.add(request)
        return True

    def shutdown_request(self, request: Any) -> None:
        lock, live = self._tracking()
        with lock:
            live.discard(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def close_connections(self) -> None:
        """Shut down every open connection: blocked reads and writes return at once."""
        lock, live = self._tracking()
        with lock:
            sockets = list(live)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ServerFace:
    """Lifecycle shared by the socketserver-based faces: one thread serves, ``close``
    stops it, wakes delayed handlers (``_stop``), shuts down open connections and joins
    everything, within about a second whatever the clients do. Idempotent.
    Subclasses build their server (with :class:`TrackingServerMixin`) and hand it to
    :meth:`_serve` in ``__init__``."""

    scheme = "tcp"

    def _serve(self, server: socketserver.BaseServer) -> None:
        self._server = server
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The URL a hashrc backend opens for this face."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"face:{self.url}", daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake delayed handlers, shut down open connections, join every
        thread. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._server.shutdown()  # serve_forever returns within its poll interval
            self._thread.join()
            self._thread = None
        if isinstance(self._server, TrackingServerMixin):
            self._server.close_connections()
        if not self._closed:
            self._closed = True
            self._server.server_close()  # joins the handler threads, now all unblocked

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
