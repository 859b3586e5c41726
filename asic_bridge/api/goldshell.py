"""Goldshell (LB-Box and kin) HTTP API, sans-IO.

``GET /user/login?username=admin&password=...&cipher=false`` answers
``{"JWT Token": "..."}``; later requests carry ``Authorization: Bearer <token>``.
``GET /mcb/status`` (readable without a token) carries ``model`` and ``firmware``;
``GET /mcb/cgminer?cgminercmd=devs`` answers ``{"data": [{"id", "hashrate",
"av_hashrate", "accepted", "rejected", "hwerrors", "temp": "83.0 °C / 73.8 °C",
"fanspeed": "3120 rpm / 3090 rpm", ...}]}`` with hashrates in MH/s (as third-party
clients read them); ``GET``/``PUT /mcb/setting`` reads and writes the settings, whose
``powerplans`` (with ``select``) are the clock knob.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from asic_bridge.api.readings import Reading, maybe_float, reading
from asic_bridge.errors import ProtocolError

STATUS_PATH = "/mcb/status"
DEVS_PATH = "/mcb/cgminer?cgminercmd=devs"
SETTING_PATH = "/mcb/setting"
RESTART_PATH = "/mcb/restart"
POOLS_PATH = "/mcb/pools"
DEFAULT_PORT = 80
TOKEN_KEY = "JWT Token"

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def login_path(username: str, password: str) -> str:
    """The login URL path and query (password sent in clear, ``cipher=false``)."""
    return "/user/login?" + urlencode(
        {"username": username, "password": password, "cipher": "false"}
    )


def parse_login(doc: dict[str, Any]) -> str:
    """The JWT of a login reply; ProtocolError if absent (wrong password)."""
    token = doc.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        raise ProtocolError("login reply carries no JWT token (wrong password?)")
    return token


def auth_header(token: str) -> dict[str, str]:
    """The header later requests carry."""
    return {"Authorization": f"Bearer {token}"}


def parse_numbers(text: object, *, field: str) -> list[float]:
    """Every number in a display string: ``"83.0 °C / 73.8 °C"`` -> [83.0, 73.8],
    ``"3120 rpm / 3090 rpm"`` -> [3120.0, 3090.0]; a bare number -> [it]."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return [float(text)]
    if not isinstance(text, str):
        raise ProtocolError(f"{field}: expected a string, got {type(text).__name__}")
    numbers = [float(m) for m in _NUMBER.findall(text)]
    if not numbers and text.strip():
        raise ProtocolError(f"{field}: no number in {text!r}")
    return numbers


def parse_devs(doc: dict[str, Any]) -> list[Reading]:
    """Readings of a ``cgminercmd=devs`` reply, one hash board per ``data`` entry:
    ``chain_hashrate`` (GH/s, from MH/s), ``chip_temp_max``/``board_temp`` (the two
    numbers of ``temp``: hottest chip / board), ``chain_hw_errors``; device totals
    ``hashrate``, ``hashrate_avg``, ``shares_*``, ``hw_errors``; ``fan_rpm`` per fan."""
    data = doc.get("data", doc.get("Data"))
    if not isinstance(data, list):
        raise ProtocolError("devs reply has no data list")
    out: list[Reading] = []
    totals = {"hashrate": 0.0, "hashrate_avg": 0.0, "shares_accepted": 0.0,
              "shares_rejected": 0.0, "hw_errors": 0.0}
    seen: set[str] = set()
    fan_index = 0
    for position, entry in enumerate(e for e in data if isinstance(e, dict)):
        index = int(maybe_float(entry, "id") or position)
        for key, quantity in (("hashrate", "hashrate"), ("av_hashrate", "hashrate_avg")):
            mhs = maybe_float(entry, key)
            if mhs is not None:
                totals[quantity] += mhs / 1000.0
                seen.add(quantity)
                if quantity == "hashrate":
                    out.append(reading("chain_hashrate", mhs / 1000.0, index))
        for key, quantity in (("accepted", "shares_accepted"), ("rejected", "shares_rejected"),
                              ("hwerrors", "hw_errors")):
            value = maybe_float(entry, key)
            if value is not None:
                totals[quantity] += value
                seen.add(quantity)
                if quantity == "hw_errors":
                    out.append(reading("chain_hw_errors", value, index))
        if "temp" in entry:
            temps = parse_numbers(entry["temp"], field="temp")
            if temps:
                out.append(reading("chip_temp_max", temps[0], index))
            if len(temps) > 1:
                out.append(reading("board_temp", temps[1], index))
        if "fanspeed" in entry:
            for rpm in parse_numbers(entry["fanspeed"], field="fanspeed"):
                out.append(reading("fan_rpm", rpm, fan_index))
                fan_index += 1
    out.extend(reading(q, v) for q, v in totals.items() if q in seen)
    return out


@dataclass(frozen=True, slots=True)
class PowerPlan:
    """One power plan of ``/mcb/setting``: its ``level``, label, clock (MHz) and core
    voltage (mV)."""

    level: int
    info: str
    freq_mhz: float | None
    volt_mv: float | None


def parse_setting(doc: dict[str, Any]) -> tuple[list[PowerPlan], int]:
    """The power plans of a settings reply and the index of the selected one."""
    plans_doc = doc.get("powerplans")
    if not isinstance(plans_doc, list) or not plans_doc:
        raise ProtocolError("setting reply has no powerplans")
    plans = [
        PowerPlan(
            level=int(maybe_float(p, "level") or i),
            info=str(p.get("info", "")),
            freq_mhz=maybe_float(p, "freq"),
            volt_mv=maybe_float(p, "volt"),
        )
        for i, p in enumerate(plans_doc)
        if isinstance(p, dict)
    ]
    select = maybe_float(doc, "select")
    if select is None or not 0 <= int(select) < len(plans):
        raise ProtocolError(f"setting reply selects no valid plan: {doc.get('select')!r}")
    return plans, int(select)


def nearest_plan(plans: list[PowerPlan], frequency_mhz: float) -> int:
    """Index of the plan whose clock is nearest ``frequency_mhz``; ProtocolError (a
    ValueError) if no plan states its clock."""
    clocked = [(abs(p.freq_mhz - frequency_mhz), i) for i, p in enumerate(plans)
               if p.freq_mhz is not None]
    if not clocked:
        raise ProtocolError("setting reply: no power plan states its clock")
    return min(clocked)[1]


def setting_body(doc: dict[str, Any], *, select: int | None = None,
                 fan_pct: float | None = None) -> bytes:
    """The body of ``PUT /mcb/setting``: the settings read back with the plan selection
    and/or a manual fan duty (%) changed."""
    body = dict(doc)
    if select is not None:
        body["select"] = int(select)
    if fan_pct is not None:
        body["fanmode"] = 1  # manual
        body["fanspeed"] = round(fan_pct)
    return json.dumps(body).encode("utf-8")


def parse_status(doc: dict[str, Any]) -> dict[str, str]:
    """Identity fields of ``/mcb/status`` (model, firmware, hardware, serial...)."""
    if "model" not in doc:
        raise ProtocolError("status reply has no model")
    return {str(k): str(v) for k, v in doc.items() if isinstance(v, str | int | float)}
