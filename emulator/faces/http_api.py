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
``info.coreVoltage`` report the running values (the model's).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulator.faces import FaultConfig, FirmwareState, ModelSnapshotSource, ServerFace

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
    return status, "application/json", json.dumps(doc).encode("utf-8")


class _Server(ThreadingHTTPServer):
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
    ) -> None:
        check_bind_host(host, allow_any_address)
        self.source = source
        self.firmware = FirmwareState(source, restart_s=restart_s)
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

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
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
            "coreVoltage": round(snap["core_voltage_mv"]),
            "coreVoltageActual": round(snap["core_voltage_actual_mv"]),
            "frequency": round(snap["frequency_mhz"]),
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
        try:
            doc = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return json_reply({"error": "invalid JSON"}, 400)
        if not isinstance(doc, dict):
            return json_reply({"error": "expected an object"}, 400)
        for key, value in doc.items():
            if key in ("frequency", "coreVoltage", "fanspeed", "autofanspeed", "stratumPort",
                       "temptarget") and not isinstance(value, int | float):
                return json_reply({"error": f"{key} must be a number"}, 400)
        if "frequency" in doc:
            self.firmware.store("frequency_mhz", doc["frequency"])
        if "coreVoltage" in doc:
            self.firmware.store("core_voltage_mv", doc["coreVoltage"])
        if "fanspeed" in doc:
            self.source.set_fan_pct(float(doc["fanspeed"]))
        for key, value in doc.items():
            if key not in ("frequency", "coreVoltage", "fanspeed"):
                self.settings[key] = value
        return 200, "text/plain", b""

    def _restart(self, _body: bytes) -> Reply:
        self.firmware.restart()
        return 200, "text/plain", b"System will restart shortly."
