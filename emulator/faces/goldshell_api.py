"""Goldshell web-API face (LB-Box), with an optional bfgminer API on TCP beside it.

Start one::

    from emulator.faces import StaticSnapshotSource
    from emulator.faces.goldshell_api import GoldshellFace

    with GoldshellFace(StaticSnapshotSource.for_model("lbbox"), port=0) as face:
        print(face.url)  # goldshell://127.0.0.1:<port>

Endpoints: ``GET /`` (the web UI's index, whose "cloud-box" marker pyasic looks for),
``GET /user/login?username=&password=&cipher=false`` -> ``{"JWT Token": ...}``,
``GET /user/logout``, ``GET /mcb/status`` (no token needed; ``model``, ``firmware``),
and with ``Authorization: Bearer <token>``: ``GET /mcb/cgminer?cgminercmd=devs`` (hashrates
in MH/s, ``temp`` "83.0 °C / 73.8 °C" chip / board, ``fanspeed`` "3120 rpm / 3090 rpm"),
``GET``/``PUT /mcb/setting`` (power plans; selecting one applies its clock and voltage
at once), ``GET /mcb/pools``, ``GET``/``PUT /mcb/restart``. ``rpc_port`` (e.g. 4028)
also starts a bfgminer-flavoured :class:`~emulator.faces.cgminer_api.CgminerFace` on the
same host, which is where pyasic reads a Goldshell's hashrate and temperatures.

The power plans (clock MHz / core mV) are assumptions, like the LB-Box model in
:mod:`asic_bridge.models`: Goldshell publishes neither.

``PUT /mcb/setting`` is checked as a whole before anything changes: a body that is not
JSON (``NaN`` and ``Infinity`` included) or not an object, ``select`` that is not the
index of a plan, ``fanspeed`` outside 0-100 %, ``fanmode``/``ledmode`` other than 0 or
1, or a number given as a string or boolean is answered 400 and nothing is stored.
Goldshell's firmware is not public, so this is the conservative choice (refuse, never
guess), not a transcription; the clock can only ever be one of the plans'.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, Self

from emulator.faces import ModelSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.http_api import HttpFace, Reply, json_reply, strict_json

_INDEX = ("<!doctype html><html><head><title>Goldshell</title></head><body>"
          "<div id=\"app\" class=\"cloud-box\"></div></body></html>")

ASSUMED_PLANS: tuple[tuple[str, float, float], ...] = (
    ("Normal", 500.0, 750.0),
    ("Low power", 450.0, 725.0),
    ("Eco", 400.0, 700.0),
    ("High", 550.0, 775.0),
    ("Max", 600.0, 800.0),
)


class GoldshellFace(HttpFace):
    """The Goldshell web API over a model. ``model`` is what ``/mcb/status`` reports;
    ``password`` the admin password; ``rpc_port`` starts the TCP API too (None: not)."""

    scheme = "goldshell"

    def __init__(
        self,
        source: ModelSnapshotSource,
        *,
        model: str = "Goldshell-LB-Box",
        password: str = "123456789",
        firmware: str = "2.2.5",
        mac: str = "02:00:00:00:0b:01",
        serial: str = "GSLBEMU0001",
        rpc_port: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(source, **kwargs)
        self.model = model
        self.password = password
        self.firmware_version = firmware
        self.mac = mac
        self.serial = serial
        self.tokens: set[str] = set()
        self.setting: dict[str, Any] = {
            "name": mac,
            "select": 0,
            "powerplans": [
                {"level": level, "info": info, "freq": freq, "volt": volt}
                for level, (info, freq, volt) in enumerate(ASSUMED_PLANS)
            ],
            "fanmode": 0,
            "fanspeed": 100,
            "ledmode": 1,
            "version": firmware,
        }
        self.rpc: CgminerFace | None = None
        if rpc_port is not None:
            self.rpc = CgminerFace(
                source, host=self.host, port=rpc_port, flavour="bfgminer",
                miner_type=model, chain_slots=(1,), fan_slots=(1, 2),
                restart_s=self.firmware.restart_s, faults=self.faults,
                allow_any_address=True,  # same host as this face, already checked
            )

    def start(self) -> Self:
        super().start()
        if self.rpc is not None:
            self.rpc.start()
        return self

    def close(self) -> None:
        if self.rpc is not None:
            self.rpc.close()
        super().close()

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        if path == "/" and method == "GET":
            return 200, "text/html", _INDEX.encode()
        if path == "/user/login":
            return self._login(query)
        if path == "/user/logout":
            return json_reply({})
        if path == "/mcb/status" and method == "GET":
            return json_reply(self.status())
        if not path.startswith("/mcb/"):
            return json_reply({"error": "not found"}, 404)
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            return json_reply({"error": "unauthorized"}, 401)
        command = path[len("/mcb/"):]
        if command == "cgminer":
            cmd = query.get("cgminercmd", [""])[0]
            if cmd != "devs":
                return json_reply({"error": f"unsupported cgminercmd {cmd!r}"}, 400)
            return json_reply(self.devs())
        if command == "setting":
            return self._put_setting(body) if method == "PUT" else json_reply(self.setting)
        if command == "pools":
            return json_reply([{"url": "stratum+tcp://127.0.0.1:3334", "user": "hashrc.lbbox",
                                "pass": "x", "dragid": 0, "active": True, "legal": True}])
        if command == "restart":
            self.firmware.restart()
            return json_reply({})
        return json_reply({"error": "not found"}, 404)

    def _login(self, query: dict[str, list[str]]) -> Reply:
        user = query.get("username", [""])[0]
        password = query.get("password", [""])[0]
        if query.get("cipher", ["false"])[0] != "false":
            return json_reply({"error": "cipher logins are not emulated"}, 400)
        if user != "admin" or password != self.password:
            return json_reply({"error": "wrong username or password"}, 401)
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return json_reply({"JWT Token": token})

    def status(self) -> dict[str, Any]:
        """``/mcb/status``: identity and uptime (s)."""
        snap = self.source.snapshot()
        return {"model": self.model, "firmware": self.firmware_version,
                "hardware": "GS-LB-V1", "serial": self.serial,
                "boottime": int(snap["uptime_s"]), "ipaddress": self.host, "mac": self.mac}

    def devs(self) -> dict[str, Any]:
        """``/mcb/cgminer?cgminercmd=devs``: one entry per hash board."""
        snap = self.source.snapshot()
        fans = " / ".join(f"{rpm:.0f} rpm" for rpm in snap["fan_rpm"])
        data = []
        for index, chain in enumerate(snap["chains"]):
            data.append({
                "id": index,
                "minerstatus": 0,
                "hashrate": round(chain["hashrate_ghs"] * 1000.0, 2),
                "av_hashrate": round(chain["hashrate_ghs"] * 1000.0, 2),
                "accepted": snap["shares_accepted"],
                "rejected": snap["shares_rejected"],
                "hwerrors": chain["hw_errors"],
                "hwerr_ratio": 0.0,
                "nonces": snap["shares_accepted"],
                "temp": f"{chain['chip_temp_c']:.1f} °C / {chain['board_temp_c']:.1f} °C",
                "fanspeed": fans if index == 0 else "",
                "time": int(snap["uptime_s"]),
                "valid": 1,
            })
        return {"data": data}

    def _put_setting(self, body: bytes) -> Reply:
        """``PUT /mcb/setting``: checked as a whole (module docstring), then applied."""
        try:
            doc = strict_json(body or b"{}")
        except ValueError:
            return json_reply({"error": "invalid JSON"}, 400)
        if not isinstance(doc, dict):
            return json_reply({"error": "expected an object"}, 400)
        plans = self.setting["powerplans"]
        checks = {
            "select": lambda v: _is_int(v) and 0 <= v < len(plans),
            "fanspeed": lambda v: _is_number(v) and 0 <= v <= 100,
            "fanmode": lambda v: _is_int(v) and v in (0, 1),
            "ledmode": lambda v: _is_int(v) and v in (0, 1),
        }
        for key, ok in checks.items():
            if key in doc and not ok(doc[key]):
                return json_reply({"error": f"invalid {key}: {str(doc[key])[:40]!r}"}, 400)
        select = doc.get("select", self.setting["select"])
        if select != self.setting["select"]:
            plan = plans[select]
            self.source.set_frequency_mhz(plan["freq"])
            self.source.set_core_voltage_mv(plan["volt"])
        if "fanspeed" in doc:
            self.source.set_fan_pct(float(doc["fanspeed"]))
        for key in checks:
            if key in doc:
                self.setting[key] = doc[key]
        return json_reply(self.setting)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
