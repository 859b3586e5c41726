"""cgminer-family API face on TCP (bmminer for the Antminer S9; bfgminer for the API
Goldshell firmware exposes beside its web UI).

Start one::

    from emulator.faces import StaticSnapshotSource
    from emulator.faces.cgminer_api import CgminerFace

    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        print(face.url)  # cgminer://127.0.0.1:<port>

One JSON request per connection, ``+``-joined commands, a STATUS block in every reply,
a NUL terminator. The bmminer flavour reproduces the S9's quirks: ``}{`` with no comma
between the STATS objects, ``"GHS 5s"`` as a string, chains in slots 6-8 of the
``chain_*``/``temp*`` fields, fans in slots 3 and 6. Commands: version, summary, stats,
devs, devdetails, pools, config, and the write commands ``ascset`` (``0,freq,<MHz>``,
``0,volt,<mV>``, ``0,fan,<%>``) and ``restart`` (when ``allow_write``). A clock or
voltage set through ``ascset`` is stored and applied by the ``restart``.

``ascset`` answers as cgminer's ``api.c`` does (``ascset()`` and its message table):
no parameter: E 15 "Missing device id parameter"; no comma after the id: E 116 "Missing
option after ASC number"; an id (``atoi``) outside the chains: E 107 "Invalid ASC id N -
range is 0 - M"; a driver without ``set_device``: W 117 "ASC N does not support ascset"
(stock bmminer on the S9: pass ``ascset=False``); otherwise the driver's
``set_device`` decides: S 119 "ASC N set OK", or E 120 "ASC N set failed: <reason>",
and ``help`` gives I 118. Stock bmminer's S9 driver registers no ``set_device`` (and its
default ``api-allow`` grants no W privilege), so on a real S9 every ``ascset`` is
refused; the default face models a firmware whose driver implements it the way
cgminer's ASIC drivers do: the value is read with C ``atoi`` (``"600.7"`` is 600,
``"nan"`` is 0, ``"1e308"`` is 1, ``"abc"`` is 0) and refused outside the driver's
range (:attr:`CgminerFace.ascset_limits`; nothing is stored then). The default clock
range is the span of bmminer's BM1387 PLL table (100-1175 MHz, ``freq_pll_1385`` in
Bitmain's bmminer ``driver-btm-c5.c``); the chain-voltage and fan ranges are the S9
model's envelope and 0-100 %, assumptions labelled as such.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import time
from typing import Any

from emulator.faces import (
    FaultConfig,
    FirmwareState,
    ModelSnapshotSource,
    ServerFace,
    TrackingServerMixin,
    finite_json,
)
from emulator.faces.http_api import check_bind_host

_WRITE = {"ascset", "restart"}
MAX_REQUEST = 65_536  # bytes read of one request; cgminer's own buffer is smaller
REQUEST_DEADLINE_S = 2.0  # a request not complete by then is dropped unanswered

BMMINER_ASCSET_LIMITS: dict[str, tuple[float, float]] = {
    "freq": (100.0, 1175.0),  # MHz: bmminer's BM1387 PLL table spans 100-1175 MHz
    "volt": (8_400.0, 9_400.0),  # mV chain voltage: the S9 model's envelope (assumed)
    "fan": (0.0, 100.0),  # % PWM
}
"""The ranges the emulated bmminer driver's ``set_device`` accepts (module docstring)."""

BFGMINER_ASCSET_LIMITS: dict[str, tuple[float, float]] = {
    "freq": (400.0, 600.0),  # MHz: the span of the LB-Box model's power plans (assumed)
    "volt": (700.0, 800.0),  # mV: the same plans' voltages (assumed)
    "fan": (0.0, 100.0),
}
"""The ranges of the emulated Goldshell bfgminer driver: Goldshell publishes nothing, so
these are the LB-Box model's own assumptions (:mod:`asic_bridge.models`)."""


def c_atoi(text: str) -> int:
    """C's ``atoi``: optional leading white space and sign, then the longest run of
    digits; 0 when there is none. (Saturated at the int range rather than undefined.)"""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    j = i
    while j < n and text[j].isascii() and text[j].isdigit() and j - i < 12:
        j += 1
    value = sign * int(text[i:j]) if j > i else 0
    return max(-(2**31), min(2**31 - 1, value))


def dumps_cgminer(doc: Any, *, brace_quirk: bool, _key: str | None = None) -> str:
    """JSON as cgminer writes it; with ``brace_quirk`` the objects of a ``STATS`` list
    follow each other with no comma (``}{``), as bmminer sends them."""
    if isinstance(doc, dict):
        return "{" + ",".join(
            json.dumps(str(k)) + ":" + dumps_cgminer(v, brace_quirk=brace_quirk, _key=str(k))
            for k, v in doc.items()
        ) + "}"
    if isinstance(doc, list):
        sep = "" if brace_quirk and _key == "STATS" else ","
        return "[" + sep.join(dumps_cgminer(v, brace_quirk=brace_quirk) for v in doc) + "]"
    return json.dumps(doc)


class _Server(TrackingServerMixin, socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


class CgminerFace(ServerFace):
    """A cgminer API server over a model.

    ``flavour`` ``"bmminer"`` (Antminer S9) or ``"bfgminer"`` (Goldshell); ``miner_type``
    is STATS/VERSION ``Type``; ``chain_slots`` the 1-based slots the chains fill;
    ``fan_slots`` the slots of the fans; ``brace_quirk``/``ghs_as_string``/``nul`` the
    firmware quirks; ``allow_write`` the api-allow W privilege; ``ascset`` whether the
    driver implements ``set_device`` and ``ascset_limits`` the ranges it accepts (option
    -> (low, high)); ``restart_s`` the reboot time in s.
    """

    scheme = "cgminer"

    def __init__(
        self,
        source: ModelSnapshotSource,
        *,
        host: str = "127.0.0.1",
        port: int = 4028,
        flavour: str = "bmminer",
        miner_type: str = "Antminer S9",
        chain_slots: tuple[int, ...] = (6, 7, 8),
        fan_slots: tuple[int, ...] = (3, 6),
        brace_quirk: bool | None = None,
        ghs_as_string: bool | None = None,
        nul: bool = True,
        allow_write: bool = True,
        ascset: bool = True,
        ascset_limits: dict[str, tuple[float, float]] | None = None,
        restart_s: float = 1.0,
        faults: FaultConfig | None = None,
        allow_any_address: bool = False,
    ) -> None:
        if flavour not in ("bmminer", "bfgminer"):
            raise ValueError(f"flavour must be 'bmminer' or 'bfgminer', got {flavour!r}")
        check_bind_host(host, allow_any_address)
        self.source = source
        self.flavour = flavour
        self.miner_type = miner_type
        self.chain_slots = chain_slots
        self.fan_slots = fan_slots
        self.brace_quirk = flavour == "bmminer" if brace_quirk is None else brace_quirk
        self.ghs_as_string = flavour == "bmminer" if ghs_as_string is None else ghs_as_string
        self.nul = nul
        self.allow_write = allow_write
        self.ascset = ascset
        default_limits = (BMMINER_ASCSET_LIMITS if flavour == "bmminer"
                          else BFGMINER_ASCSET_LIMITS)
        self.ascset_limits = dict(default_limits if ascset_limits is None else ascset_limits)
        self.firmware = FirmwareState(source, restart_s=restart_s)
        self.faults = faults or FaultConfig()
        self.requests = 0
        self._serve(_Server((host, port), self._handler_class()))

    # -- protocol ------------------------------------------------------------------------

    def answer(self, request: bytes) -> bytes | None:
        """The reply bytes to one request (None: close without a reply)."""
        self.requests += 1
        if self.faults.delay_s > 0 and self._stop.wait(self.faults.delay_s):
            return None
        if self.faults.drop or self.firmware.rebooting:
            return None
        try:
            doc = json.loads(request.rstrip(b"\x00").decode("utf-8"))
            commands = str(doc["command"]).split("+")
            parameter = doc.get("parameter")
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError,
                RecursionError):
            reply: dict[str, Any] = {"STATUS": self._status("E", 23, "Invalid JSON")}
            commands, parameter = [], None
        if not commands:
            pass
        elif len(commands) == 1:
            reply = self._command(commands[0], parameter)
        else:
            reply = {}
            for name in commands:
                if name in _WRITE:
                    sub = {"STATUS": self._status("E", 45, f"Access denied to '{name}' command")}
                else:
                    sub = self._command(name, parameter)
                reply[name] = [sub]
        after: list[Any] = reply.pop("_after", [])  # deferred actions (restart)
        text = dumps_cgminer(finite_json(reply), brace_quirk=self.brace_quirk).encode("utf-8")
        if self.faults.malformed:
            text = text[: max(1, len(text) // 2)]
        for action in after:
            action()
        return text + b"\x00" if self.nul else text

    def _status(self, status: str, code: int, msg: str) -> list[dict[str, Any]]:
        description = "bmminer 2.0.0" if self.flavour == "bmminer" else "bfgminer 5.5.0"
        return [{"STATUS": status, "When": int(time.time()), "Code": code, "Msg": msg,
                 "Description": description}]

    def _rate(self, ghs: float) -> str | float:
        return f"{ghs:.2f}" if self.ghs_as_string else round(ghs, 2)

    def _command(self, name: str, parameter: Any) -> dict[str, Any]:
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return {"STATUS": self._status("E", 14, "Invalid command"), "id": 1}
        if name in _WRITE and not self.allow_write:
            return {"STATUS": self._status("E", 45, f"Access denied to '{name}' command"),
                    "id": 1}
        reply: dict[str, Any] = handler(parameter)
        reply["id"] = 1
        return reply

    def _cmd_version(self, _p: Any) -> dict[str, Any]:
        if self.flavour == "bmminer":
            entry = {"BMMiner": "2.0.0", "API": "3.1", "Miner": "16.8.1.3",
                     "CompileTime": "Fri Nov 17 17:57:49 CST 2017", "Type": self.miner_type}
        else:
            entry = {"BFGMiner": "5.5.0", "API": "3.1", "Type": self.miner_type}
        return {"STATUS": self._status("S", 22, f"{self.flavour} versions"), "VERSION": [entry]}

    def _cmd_summary(self, _p: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        entry: dict[str, Any] = {
            "Elapsed": int(snap["uptime_s"]),
            "Found Blocks": 0,
            "Getworks": 0,
            "Accepted": snap["shares_accepted"],
            "Rejected": snap["shares_rejected"],
            "Hardware Errors": snap["hw_errors"],
            "Utility": 0.0,
            "Discarded": 0,
            "Stale": 0,
            "Get Failures": 0,
            "Local Work": 0,
            "Remote Failures": 0,
            "Network Blocks": 0,
            "Best Share": int(snap["best_diff"]),
            "Device Hardware%": 0.0,
            "Device Rejected%": 0.0,
            "Pool Rejected%": 0.0,
            "Pool Stale%": 0.0,
        }
        if self.flavour == "bmminer":
            entry["GHS 5s"] = self._rate(snap["hashrate_ghs"])
            entry["GHS av"] = round(snap["hashrate_avg_ghs"], 2)
        else:
            entry["MHS 20s"] = round(snap["hashrate_ghs"] * 1000.0, 2)
            entry["MHS av"] = round(snap["hashrate_avg_ghs"] * 1000.0, 2)
        return {"STATUS": self._status("S", 11, "Summary"), "SUMMARY": [entry]}

    def _cmd_stats(self, _p: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        head = self._cmd_version(None)["VERSION"][0]
        data: dict[str, Any] = {
            "STATS": 0, "ID": "BC50" if self.flavour == "bmminer" else "GSD0",
            "Elapsed": int(snap["uptime_s"]), "Calls": 0, "Wait": 0.0, "Max": 0.0,
            "Min": 99999999.0,
            "GHS 5s": self._rate(snap["hashrate_ghs"]),
            "GHS av": round(snap["hashrate_avg_ghs"], 2),
            "miner_count": len(snap["chains"]),
            "frequency": f"{snap['frequency_mhz']:.0f}",
            "fan_num": len(snap["fan_rpm"]),
        }
        fans = dict(zip(self.fan_slots, snap["fan_rpm"], strict=False))
        for i in range(1, 9):
            data[f"fan{i}"] = round(fans.get(i, 0))
        chains = dict(zip(self.chain_slots, snap["chains"], strict=False))
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"temp{i}"] = round(chain["board_temp_c"]) if chain else 0
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"temp2_{i}"] = round(chain["chip_temp_c"]) if chain else 0
        data["temp_max"] = max((round(c["chip_temp_c"]) for c in snap["chains"]), default=0)
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"freq_avg{i}"] = round(chain["frequency_mhz"], 2) if chain else 0
        data["total_rateideal"] = round(snap["hashrate_ghs"], 2)
        data["total_freqavg"] = round(snap["frequency_mhz"], 2)
        data["total_acn"] = sum(c["chips"] for c in snap["chains"])
        data["total_rate"] = round(snap["hashrate_ghs"], 2)
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"chain_acn{i}"] = chain["chips"] if chain else 0
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"chain_acs{i}"] = _chip_status(chain["chips"]) if chain else ""
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"chain_hw{i}"] = chain["hw_errors"] if chain else 0
        for i in range(1, 17):
            chain = chains.get(i)
            data[f"chain_rate{i}"] = self._rate(chain["hashrate_ghs"]) if chain else ""
        return {"STATUS": self._status("S", 70, f"{self.flavour.upper()} stats"),
                "STATS": [head, data]}

    def _cmd_devs(self, _p: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        devs = []
        for index, chain in enumerate(snap["chains"]):
            entry: dict[str, Any] = {
                "ASC": index, "Name": "BMM" if self.flavour == "bmminer" else "GSD",
                "ID": index, "Enabled": "Y", "Status": "Alive",
                "Temperature": round(chain["chip_temp_c"], 1),
                "MHS av": round(chain["hashrate_ghs"] * 1000.0, 2),
                "MHS 5s": round(chain["hashrate_ghs"] * 1000.0, 2),
                "Hardware Errors": chain["hw_errors"],
                "Device Elapsed": int(snap["uptime_s"]),
            }
            if self.flavour == "bfgminer":
                entry["MHS 20s"] = entry.pop("MHS 5s")
                entry["tstemp-2"] = round(chain["chip_temp_c"], 1)
            devs.append(entry)
        return {"STATUS": self._status("S", 9, f"{len(devs)} ASC(s)"), "DEVS": devs}

    def _cmd_devdetails(self, _p: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        details = [
            {"DEVDETAILS": index, "Name": "BMM" if self.flavour == "bmminer" else "GSD",
             "ID": index, "Driver": self.flavour, "chips-nr": chain["chips"],
             "Model": self.miner_type}
            for index, chain in enumerate(snap["chains"])
        ]
        # Goldshell's bfgminer files device details under "DEVS" (pyasic reads them there).
        key = "DEVDETAILS" if self.flavour == "bmminer" else "DEVS"
        return {"STATUS": self._status("S", 69, "Device Details"), key: details}

    def _cmd_pools(self, _p: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        pool = {"POOL": 0, "URL": "stratum+tcp://127.0.0.1:3333", "Status": "Alive",
                "Priority": 0, "Quota": 1, "Stratum Active": True, "User": "hashrc.emu",
                "Accepted": snap["shares_accepted"], "Rejected": snap["shares_rejected"],
                "Get Failures": 0, "Remote Failures": 0, "Diff": "1.02K"}
        return {"STATUS": self._status("S", 7, "1 Pool(s)"), "POOLS": [pool]}

    def _cmd_config(self, _p: Any) -> dict[str, Any]:
        return {"STATUS": self._status("S", 33, "CGMiner config"),
                "CONFIG": [{"ASC Count": len(self.source.snapshot()["chains"]), "PGA Count": 0,
                            "Pool Count": 1, "Strategy": "Failover"}]}

    def _cmd_ascset(self, parameter: Any) -> dict[str, Any]:
        """cgminer's ``ascset`` (see the module docstring for the replies)."""
        param = "" if parameter is None else str(parameter)
        if not param:
            return {"STATUS": self._status("E", 15, "Missing device id parameter")}
        device, comma, rest = param.partition(",")
        if not comma:
            return {"STATUS": self._status("E", 116, "Missing option after ASC number")}
        chains = len(self.source.snapshot()["chains"])
        asc = c_atoi(device)
        if not 0 <= asc < chains:
            return {"STATUS": self._status(
                "E", 107, f"Invalid ASC id {asc} - range is 0 - {chains - 1}")}
        if not self.ascset:
            return {"STATUS": self._status("W", 117, f"ASC {asc} does not support ascset")}
        option, _, setting = rest.partition(",")
        option = option.strip().lower()
        if option == "help":
            ranges = "; ".join(f"{k}: {lo:g}-{hi:g}" for k, (lo, hi) in self.ascset_limits.items())
            return {"STATUS": self._status("I", 118, f"ASC {asc} set help: {ranges}")}
        failed = self._set_device(option, setting)
        if failed:
            return {"STATUS": self._status("E", 120, f"ASC {asc} set failed: {failed}")}
        return {"STATUS": self._status("S", 119, f"ASC {asc} set OK")}

    def _set_device(self, option: str, setting: str) -> str | None:
        """The modelled driver's ``set_device``: None when applied, else the reason."""
        limits = self.ascset_limits.get(option)
        if limits is None:
            return f"unknown option '{option[:32]}'"
        if not setting.strip():
            return f"missing {option} value"
        value = c_atoi(setting)
        low, high = limits
        if not low <= value <= high:
            return f"invalid {option} '{setting[:32]}' valid range {low:g}-{high:g}"
        if option == "freq":
            self.firmware.store("frequency_mhz", value)
        elif option == "volt":
            self.firmware.store("core_voltage_mv", value)
        else:
            self.source.set_fan_pct(value)
        return None

    def _cmd_restart(self, _p: Any) -> dict[str, Any]:
        return {"STATUS": self._status("S", 7, "RESTART"), "_after": [self.firmware.restart]}

    def _handler_class(self) -> type[socketserver.BaseRequestHandler]:
        face = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock = self.request
                deadline = time.monotonic() + REQUEST_DEADLINE_S
                data = b""
                try:
                    while len(data) < MAX_REQUEST:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return  # a half-sent request: dropped unanswered
                        sock.settimeout(left)
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                        if b"\x00" in chunk or _complete_json(data):
                            break
                except OSError:
                    return
                if not data:
                    return
                reply = face.answer(data)
                if reply is not None:
                    with contextlib.suppress(OSError):
                        sock.sendall(reply)

        return Handler


def _chip_status(chips: int) -> str:
    """bmminer's per-chip status string: an 'o' per good chip, blank every 8."""
    marks = "o" * chips
    return " ".join(marks[i: i + 8] for i in range(0, chips, 8))


def _complete_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return True
