"""AxeOS / ESP-Miner HTTP face (BitAxe, Lucky Miner LV06), plus the small HTTP server
base the Goldshell face shares.

Start one::

    from emulator.faces import StaticSnapshotSource
    from emulator.faces.http_api import AxeOSFace

    with AxeOSFace(StaticSnapshotSource.for_model("lv06"), port=0) as face:
        print(face.url)  # axeos://127.0.0.1:<port>

Endpoints: ``GET /`` (the web UI's index: "Lucky miner" for the LV06 flavour, "AxeOS"
for a BitAxe, which is how pyasic tells them apart), ``GET /api/system/info``,
``GET /api/system/asic``, ``GET /api/system/statistics``, ``PATCH /api/system``,
``POST /api/system/restart``. A PATCH of ``frequency`` or ``coreVoltage`` is stored and
reaches the model only at the next restart, as on the firmware; during the reboot
(``restart_s``) connections are closed unanswered. ``info.frequency`` and
``info.coreVoltage`` report the stored settings, as ESP-Miner's ``GET_system_info`` reads
them from NVS (the model's running values until something is stored);
``coreVoltageActual`` is measured.

``PATCH /api/system`` checks its input as ESP-Miner does (``PATCH_update_settings`` and
``check_settings_and_update`` in bitaxeorg/ESP-Miner ``main/http_server/http_server.c``,
limits from the settings table in ``main/nvs_config.c``): a body of 10240 bytes or more
(``SCRATCH_BUFSIZE``) is answered 500 "content too long"; a body cJSON cannot parse
(including ``NaN`` and ``Infinity``, which are not JSON) 400 "Invalid JSON"; any known
setting of the wrong JSON type or out of its range 400 "Wrong API input", and then
nothing at all is stored; unknown keys are ignored, not stored. Ranges: ``frequency`` a
number in [1, 65535] MHz (stored as a float), ``coreVoltage`` [1, 65535] mV,
``fanspeed``/``manualFanSpeed`` [0, 100] %, ``temptarget`` [35, 66] degC,
``overheat_mode`` only 0, the booleans 0 or 1, ``stratumPort`` [0, 65535], strings by
length. Integer settings are checked on cJSON's ``valueint``, the double truncated
toward zero and saturated at the int range (1e308 becomes INT_MAX and is refused).
(ESP-Miner before the settings table, e.g. v2.1, stored ``valueint`` unchecked as a
uint16: -50 became 65486. The face follows the checking firmware.)

So ``frequency: 2000`` is accepted and stored, as on the firmware, and what the chip then
runs is decided at boot: ESP-Miner's PLL search (``BM1366_send_hash_frequency``) takes
the reachable clock nearest the stored one and, if none is in reach, logs "Finding
dividers failed, using default value (200Mhz)" and runs at 200 MHz. A stored core
voltage outside the TPS546 regulator's range (``TPS546_INIT_VOUT_MIN`` 1 V to
``TPS546_INIT_VOUT_MAX`` 3 V in ESP-Miner's ``tps546.h``) is refused by
``TPS546_set_vout`` ("Voltage requested ... is out of range") and the chip keeps the
voltage it runs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulator.faces import (
    BootRule,
    FaultConfig,
    FirmwareState,
    ModelSnapshotSource,
    ServerFace,
    TrackingServerMixin,
    apply_as_stored,
    finite_json,
)

Reply = tuple[int, str, bytes] | None  # (status, content type, body); None = drop


def check_bind_host(host: str, allow_any_address: bool) -> None:
    """Faces bind loopback only unless explicitly told otherwise."""
    if allow_any_address:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"refusing to bind {host!r}: faces serve loopback unless "
                         "allow_any_address=True")


def json_reply(doc: Any, status: int = 200) -> Reply:
    """A JSON reply; never NaN or Infinity (not JSON), whatever the model says."""
    return status, "application/json", json.dumps(finite_json(doc), allow_nan=False).encode()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes) -> Any:
    """Parse a request body as cJSON would: ValueError for invalid JSON, for ``NaN``,
    ``Infinity`` and ``-Infinity`` (Python's json accepts them, cJSON does not) and for
    nesting too deep to parse."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


MAX_BODY = 10_240
"""Largest request body a face reads (bytes): ESP-Miner's ``SCRATCH_BUFSIZE``; a body of
this size or more is answered 500 "content too long" without being read."""

IDLE_TIMEOUT_S = 5.0
"""An HTTP connection idle this long is closed (ESP-IDF httpd's 5 s receive timeout)."""


class _Server(TrackingServerMixin, ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


class HttpFace(ServerFace):
    """A threaded HTTP server on ``host:port`` (port 0 picks a free one) that routes
    each request to :meth:`handle` and injects :class:`FaultConfig` faults."""

    scheme = "http"

    def __init__(
        self,
        source: ModelSnapshotSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        restart_s: float = 1.0,
        faults: FaultConfig | None = None,
        allow_any_address: bool = False,
        boot: BootRule = apply_as_stored,
    ) -> None:
        check_bind_host(host, allow_any_address)
        self.source = source
        self.firmware = FirmwareState(source, restart_s=restart_s, boot=boot)
        self.faults = faults or FaultConfig()
        self.requests = 0
        self._serve(_Server((host, port), self._handler_class()))

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request; subclasses route here."""
        return json_reply({"error": "not found"}, 404)

    def _respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
                 ) -> Reply:
        self.requests += 1
        if self.faults.delay_s > 0 and self._stop.wait(self.faults.delay_s):
            return None
        if self.faults.drop or self.firmware.rebooting:
            return None
        parts = urlsplit(raw_path)
        reply = self.handle(method, parts.path, parse_qs(parts.query), headers, body)
        if reply is not None and self.faults.malformed and reply[1] == "application/json":
            status, ctype, data = reply
            reply = status, ctype, data[: max(1, len(data) // 2)]
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        face = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "hashrc-emulator"
            timeout = IDLE_TIMEOUT_S

            def _serve(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.close_connection = True
                    reply: Reply = (400, "text/plain", b"Bad Content-Length")
                elif length >= MAX_BODY:
                    self.close_connection = True  # the body is left unread
                    reply = (500, "text/plain", b"content too long")
                else:
                    body = self.rfile.read(length) if length else b""
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    reply = face._respond(self.command, self.path, headers, body)
                if reply is None:  # as a rebooting or hung device: no answer at all
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, ctype, data = reply
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


_INDEX = {
    "luckyminer": "<!doctype html><html><head><title>Lucky miner</title></head>"
                  "<body><app-root>Lucky miner</app-root></body></html>",
    "bitaxe": "<!doctype html><html><head><title>AxeOS</title></head>"
              "<body><app-root>AxeOS</app-root></body></html>",
}


class AxeOSFace(HttpFace):
    """ESP-Miner's HTTP API over a model.

    ``flavour`` ``"luckyminer"`` (index says "Lucky miner", info has ``minerModel``) or
    ``"bitaxe"`` (index says "AxeOS"); ``best_diff_as`` ``"string"`` ("618M", older
    firmware) or ``"number"``; ``asic_model``/``small_core_count``/``asic_count`` as the
    firmware reports the chip; ``restart_s`` is the reboot time in s.
    """

    scheme = "axeos"

    def __init__(
        self,
        source: ModelSnapshotSource,
        *,
        flavour: str = "luckyminer",
        miner_model: str = "LV06",
        asic_model: str = "BM1366",
        small_core_count: int = 894,
        asic_count: int = 1,
        hostname: str = "lv06-emu",
        mac: str = "02:00:00:00:06:01",
        version: str = "v2.1.8",
        best_diff_as: str = "string",
        stratum_url: str = "127.0.0.1",
        stratum_port: int = 3333,
        stratum_user: str = "hashrc.lv06",
        **kwargs: Any,
    ) -> None:
        if flavour not in _INDEX:
            raise ValueError(f"flavour must be one of {sorted(_INDEX)}, got {flavour!r}")
        if best_diff_as not in ("string", "number"):
            raise ValueError(f"best_diff_as must be 'string' or 'number', got {best_diff_as!r}")
        kwargs.setdefault("boot", esp_miner_boot(asic_model))
        super().__init__(source, **kwargs)
        self.flavour = flavour
        self.miner_model = miner_model
        self.asic_model = asic_model
        self.small_core_count = small_core_count
        self.asic_count = asic_count
        self.hostname = hostname
        self.mac = mac
        self.version = version
        self.best_diff_as = best_diff_as
        self.settings: dict[str, Any] = {
            "stratumURL": stratum_url, "stratumPort": stratum_port, "stratumUser": stratum_user,
            "stratumPassword": "x", "fallbackStratumURL": "", "fallbackStratumPort": 3333,
            "fallbackStratumUser": "", "autofanspeed": 1, "temptarget": 60,
            "flipscreen": 1, "invertscreen": 0, "invertfanpolarity": 1, "overheat_mode": 0,
        }
        self._routes: dict[tuple[str, str], Callable[[bytes], Reply]] = {
            ("GET", "/"): lambda _b: (200, "text/html", _INDEX[self.flavour].encode()),
            ("GET", "/api/system/info"): lambda _b: json_reply(self.info()),
            ("GET", "/api/system/asic"): lambda _b: json_reply(self.asic()),
            ("GET", "/api/system/statistics"): lambda _b: json_reply(self.statistics()),
            ("PATCH", "/api/system"): self._patch,
            ("POST", "/api/system/restart"): self._restart,
        }

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        route = self._routes.get((method, path.rstrip("/") or "/"))
        if route is None:
            return json_reply({"error": f"no route {method} {path}"}, 404)
        return route(body)

    def _best_diff(self, value: float) -> str | float:
        if self.best_diff_as == "number":
            return value
        for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:.0f}"

    def info(self) -> dict[str, Any]:
        """The ``/api/system/info`` object."""
        snap = self.source.snapshot()
        doc: dict[str, Any] = {
            "power": snap["power_w"],
            "voltage": snap["input_voltage_mv"],
            "current": snap["input_current_ma"],
            "temp": max(snap["chip_temps_c"]),
            "vrTemp": snap["vr_temp_c"],
            "hashRate": snap["hashrate_ghs"],
            "bestDiff": self._best_diff(snap["best_diff"]),
            "bestSessionDiff": self._best_diff(snap["best_diff"]),
            "isUsingFallbackStratum": 0,
            "freeHeap": 8_421_064,
            "coreVoltage": round(self.firmware.stored("core_voltage_mv",
                                                      snap["core_voltage_mv"])),
            "coreVoltageActual": round(snap["core_voltage_actual_mv"]),
            "frequency": self.firmware.stored("frequency_mhz", round(snap["frequency_mhz"])),
            "ssid": "hashrc-lab",
            "macAddr": self.mac,
            "hostname": self.hostname,
            "wifiStatus": "Connected!",
            "sharesAccepted": snap["shares_accepted"],
            "sharesRejected": snap["shares_rejected"],
            "uptimeSeconds": int(snap["uptime_s"]),
            "asicCount": self.asic_count,
            "smallCoreCount": self.small_core_count,
            "ASICModel": self.asic_model,
            "version": self.version,
            "boardVersion": "204",
            "runningPartition": "ota_0",
            "fanspeed": round(snap["fan_pct"]),
            "fanrpm": round(snap["fan_rpm"][0]) if snap["fan_rpm"] else 0,
            **self.settings,
        }
        if snap.get("overheat_mode"):  # ESP-Miner sets the NVS flag when it trips
            doc["overheat_mode"] = 1
        if self.flavour == "luckyminer":
            doc["minerModel"] = self.miner_model
        return doc

    def asic(self) -> dict[str, Any]:
        """The ``/api/system/asic`` object: chip and the clock/voltage choices the UI
        offers (MHz, mV)."""
        return {
            "ASICModel": self.asic_model,
            "asicCount": self.asic_count,
            "defaultFrequency": 485,
            "frequencyOptions": [400, 425, 450, 475, 485, 500, 525, 550, 575],
            "defaultVoltage": 1200,
            "voltageOptions": [1100, 1150, 1200, 1250, 1300],
        }

    def statistics(self) -> dict[str, Any]:
        """A one-row ``/api/system/statistics`` (hashrate GH/s, temp degC, power W)."""
        snap = self.source.snapshot()
        return {"currentTimestamp": int(snap["uptime_s"] * 1000),
                "labels": ["hashrate", "asicTemp", "power"],
                "statistics": [[snap["hashrate_ghs"], max(snap["chip_temps_c"]),
                                snap["power_w"], int(snap["uptime_s"] * 1000)]]}

    def _patch(self, body: bytes) -> Reply:
        """``PATCH /api/system`` as ESP-Miner answers it (see the module docstring)."""
        try:
            doc = strict_json(body) if body.strip() else None
        except ValueError:
            doc = None
        if doc is None:
            return 400, "text/plain", b"Invalid JSON"
        if not isinstance(doc, dict):  # cJSON parses it; no setting matches: nothing stored
            return 200, "text/plain", b""
        values: dict[str, Any] = {}
        for key, item in doc.items():
            rule = _SETTINGS.get(key)
            if rule is None:
                continue  # not a setting: the firmware never looks at it
            value = rule.accept(item)
            if value is None:
                return 400, "text/plain", b"Wrong API input"
            values[key] = value
        if "frequency" in values:
            self.firmware.store("frequency_mhz", values.pop("frequency"))
        if "coreVoltage" in values:
            self.firmware.store("core_voltage_mv", values.pop("coreVoltage"))
        for key in ("fanspeed", "manualFanSpeed"):
            if key in values:
                self.source.set_fan_pct(float(values.pop(key)))
        self.settings.update(values)
        return 200, "text/plain", b""

    def _restart(self, _body: bytes) -> Reply:
        self.firmware.restart()
        return 200, "text/plain", b"System will restart shortly."


# -- ESP-Miner's input checking --------------------------------------------------------

_INT_MAX = 2**31 - 1


def _valueint(number: float) -> int:
    """cJSON's ``valueint`` of a number: truncated toward zero, saturated at the int
    range."""
    if number >= _INT_MAX:
        return _INT_MAX
    if number <= -_INT_MAX - 1:
        return -_INT_MAX - 1
    return int(number)


class _Setting:
    """One row of ESP-Miner's settings table: its type (``u16``/``i32``, ``float``,
    ``bool``, ``str``) and range (for strings: length)."""

    def __init__(self, kind: str, low: float, high: float) -> None:
        self.kind, self.low, self.high = kind, low, high

    def accept(self, item: object) -> object | None:
        """The value the firmware stores for a JSON item, or None if it refuses it."""
        if self.kind == "str":
            if not isinstance(item, str) or not self.low <= len(item) <= self.high:
                return None
            return item
        is_number = isinstance(item, int | float) and not isinstance(item, bool)
        if self.kind == "bool":
            if not (is_number or isinstance(item, bool)):
                return None
            number = _valueint(float(item))  # type: ignore[arg-type]
            return number if self.low <= number <= self.high else None
        if not is_number:
            return None
        number_f = float(item)  # type: ignore[arg-type]
        if not math.isfinite(number_f):
            return None
        if self.kind == "float":
            return number_f if self.low <= number_f <= self.high else None
        number = _valueint(number_f)
        return number if self.low <= number <= self.high else None


_U16 = 65_535
_SETTINGS: dict[str, _Setting] = {
    "frequency": _Setting("float", 1, _U16),
    "coreVoltage": _Setting("u16", 1, _U16),
    "fanspeed": _Setting("u16", 0, 100),  # ESP-Miner < v2.11's name of manualFanSpeed
    "manualFanSpeed": _Setting("u16", 0, 100),
    "autofanspeed": _Setting("bool", 0, 1),
    "temptarget": _Setting("u16", 35, 66),
    "overheat_mode": _Setting("bool", 0, 0),
    "flipscreen": _Setting("bool", 0, 1),
    "invertscreen": _Setting("bool", 0, 1),
    "invertfanpolarity": _Setting("bool", 0, 1),
    "stratumURL": _Setting("str", 0, 3999),
    "stratumPort": _Setting("u16", 0, _U16),
    "stratumUser": _Setting("str", 0, 3999),
    "stratumPassword": _Setting("str", 0, 3999),
    "fallbackStratumURL": _Setting("str", 0, 3999),
    "fallbackStratumPort": _Setting("u16", 0, _U16),
    "fallbackStratumUser": _Setting("str", 0, 3999),
    "fallbackStratumPassword": _Setting("str", 0, 3999),
    "hostname": _Setting("str", 1, 32),
    "ssid": _Setting("str", 1, 32),
    "wifiPass": _Setting("str", 0, 63),
}

PLL_FALLBACK_MHZ = 200.0
"""What a BM1366 runs when the PLL search finds no divider for the stored clock."""

TPS546_VOUT_MV = (1000.0, 3000.0)
"""The core-voltage range ``TPS546_set_vout`` accepts (mV)."""


def esp_miner_boot(asic_model: str) -> BootRule:
    """The :data:`~emulator.faces.BootRule` of ESP-Miner on a board with ``asic_model``:
    the clock goes through the chip's PLL search (nearest reachable clock, else 200 MHz);
    a core voltage outside the TPS546's range is refused (None: the chip keeps its own)."""
    from asic_bridge.serial import pll

    def boot(key: str, value: float) -> float | None:
        if key == "core_voltage_mv":
            low, high = TPS546_VOUT_MV
            return value if low <= value <= high else None
        try:
            return pll.search(asic_model, value).frequency_mhz
        except ValueError:  # out of the PLL's reach, or a chip hashrc has no table for
            try:
                pll.search(asic_model, PLL_FALLBACK_MHZ)
            except ValueError:
                return value  # unknown chip: apply as stored
            return PLL_FALLBACK_MHZ

    return boot
