"""cgminer / bmminer / bfgminer API on TCP 4028, sans-IO.

One JSON request per connection: ``{"command": "summary+stats", "parameter": "..."}``;
commands joined with ``+`` come back as ``{"summary": [reply], "stats": [reply]}``.
Every reply carries ``STATUS: [{"STATUS": "S|I|W|E|F", "When", "Code", "Msg",
"Description"}]``. Firmware quirks handled here: the trailing NUL byte, ``}{`` between
objects with no comma (bmminer's STATS list), ``[,{``, numbers sent as strings
(``"GHS 5s": "13979.12"``), MH/s instead of GH/s on some forks.

Nothing here touches a socket: :func:`encode_request` makes the bytes to send,
:func:`decode_reply` turns the bytes received into a dict, the ``parse_*`` functions turn
a reply into :class:`~asic_bridge.api.readings.Reading` values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asic_bridge.api.readings import Reading, maybe_float, reading
from asic_bridge.errors import CommandRefused, ProtocolError

DEFAULT_PORT = 4028
_COMMAND = re.compile(r"^[a-z][a-z0-9_]*$")


def encode_request(commands: str | Sequence[str], parameter: str | None = None) -> bytes:
    """The request bytes for one command or several joined with ``+``."""
    names = [commands] if isinstance(commands, str) else list(commands)
    names = [part for name in names for part in name.split("+")]
    if not names:
        raise ValueError("no command given")
    for name in names:
        if not _COMMAND.match(name):
            raise ValueError(f"not a cgminer API command name: {name!r}")
    request: dict[str, str] = {"command": "+".join(names)}
    if parameter is not None:
        request["parameter"] = str(parameter)
    return json.dumps(request, separators=(",", ":")).encode("ascii")


def decode_request(data: bytes) -> tuple[list[str], str | None]:
    """Server side: the command names and the parameter of a request."""
    try:
        text = data.rstrip(b"\x00 \r\n\t").decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"request is not UTF-8: {exc}") from None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"request is not JSON: {str(exc)[:80]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("command"), str):
        raise ProtocolError("request has no command")
    parameter = doc.get("parameter")
    return doc["command"].split("+"), None if parameter is None else str(parameter)


def _insert_missing_commas(text: str) -> str:
    """Insert a comma between ``}`` and ``{`` (and drop the one in ``[,{``) outside
    JSON strings."""
    out: list[str] = []
    in_string = escaped = False
    last_sig = ""  # last significant (non-space) character outside strings
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                last_sig = '"'
            continue
        if ch.isspace():
            out.append(ch)
            continue
        if ch == "{" and last_sig == "}":
            out.append(",")
        if ch == "," and last_sig == "[":
            continue  # "[,{" -> "[{"
        if ch == '"':
            in_string = True
        out.append(ch)
        last_sig = ch
    return "".join(out)


def decode_reply(data: bytes) -> dict[str, Any]:
    """One reply's bytes (NUL terminator optional) as a dict.

    Raises :class:`ProtocolError` for an empty reply, bytes that are not UTF-8, or text
    that stays invalid JSON after the known quirks are repaired.
    """
    body = data.split(b"\x00", 1)[0].strip()
    if not body:
        raise ProtocolError("empty reply from the miner API")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"reply is not UTF-8: {exc}") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ProtocolError("reply from the miner API is nested too deep to parse") from None
    except json.JSONDecodeError:
        repaired = _insert_missing_commas(text)
        try:
            doc = json.loads(f"[{repaired}]")
        except RecursionError:
            raise ProtocolError("reply from the miner API is nested too deep to parse") from None
        except json.JSONDecodeError as exc:
            snippet = text[:80] + ("..." if len(text) > 80 else "")
            raise ProtocolError(f"malformed JSON from the miner API ({exc}): {snippet!r}") from None
        if len(doc) == 1:
            doc = doc[0]
        elif all(isinstance(part, dict) for part in doc):  # several top-level objects
            merged: dict[str, Any] = {}
            for part in doc:
                for key, value in part.items():
                    merged.setdefault(key, value)
            doc = merged
    if not isinstance(doc, dict):
        raise ProtocolError(f"reply is a JSON {type(doc).__name__}, not an object")
    return doc


def encode_reply(doc: dict[str, Any], *, nul: bool = True) -> bytes:
    """Server side: a reply's bytes, NUL-terminated as cgminer sends them."""
    data = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    return data + b"\x00" if nul else data


def status_block(
    status: str, code: int, msg: str, *, when_s: int, description: str = "cgminer 4.9.0"
) -> list[dict[str, Any]]:
    """Server side: the ``STATUS`` list of a reply."""
    return [
        {"STATUS": status, "When": when_s, "Code": code, "Msg": msg, "Description": description}
    ]


def split_replies(doc: dict[str, Any], commands: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-command replies: a ``+`` reply is ``{"cmd": [reply], ...}``; a single command's
    reply is the document itself."""
    if len(commands) == 1 and commands[0] not in doc:
        return {commands[0]: doc}
    out: dict[str, dict[str, Any]] = {}
    for command in commands:
        part = doc.get(command)
        if isinstance(part, list) and part and isinstance(part[0], dict):
            out[command] = part[0]
        elif isinstance(part, dict):
            out[command] = part
        else:
            raise ProtocolError(f"multi-command reply lacks {command!r}")
    return out


_ACTIONS = frozenset({"ascset", "pgaset", "ascidentify", "pgaidentify", "lockstats"})
"""Commands whose W reply means the action was not done (cgminer's ``MSG_ASCNOSET``
"ASC N does not support ascset" and kin are SEVERITY_WARN)."""


def check_status(reply: dict[str, Any], command: str) -> None:
    """Raise :class:`CommandRefused` if the reply's STATUS is E or F, or W for an action
    command (``ascset``: "does not support ascset"); ProtocolError if the reply has no
    STATUS block. STATUS is a list of one object, or (some firmwares) a bare string such
    as ``"S"`` at the top level."""
    block = reply.get("STATUS")
    if isinstance(block, str):  # some firmwares: "STATUS": "S" at the top level
        status, code, msg = block, None, str(reply.get("Msg", ""))
    elif isinstance(block, list) and block and isinstance(block[0], dict):
        status = str(block[0].get("STATUS", ""))
        raw_code = block[0].get("Code")
        code = raw_code if isinstance(raw_code, int) else None
        msg = str(block[0].get("Msg", ""))
    else:
        raise ProtocolError(f"{command}: reply has no STATUS block")
    if status in ("E", "F") or (status == "W" and command in _ACTIONS):
        raise CommandRefused(command, code, msg)


def _section(reply: dict[str, Any], key: str) -> list[dict[str, Any]]:
    section = reply.get(key)
    if not isinstance(section, list):
        raise ProtocolError(f"reply has no {key} list")
    return [entry for entry in section if isinstance(entry, dict)]


def _hashrate_ghs(entry: dict[str, Any], window: str) -> float | None:
    """``GHS <window>``, else ``MHS <window>`` / 1000."""
    value = maybe_float(entry, f"GHS {window}")
    if value is not None:
        return value
    value = maybe_float(entry, f"MHS {window}")
    return None if value is None else value / 1000.0


def parse_summary(reply: dict[str, Any]) -> list[Reading]:
    """Readings of a ``summary`` reply: hashrate (5 s, else 20 s / 1 m window), average
    hashrate, accepted/rejected shares, hardware errors, uptime, best share."""
    entries = _section(reply, "SUMMARY")
    if not entries:
        raise ProtocolError("SUMMARY is empty")
    entry = entries[0]
    out: list[Reading] = []
    for window in ("5s", "20s", "1m"):
        rate = _hashrate_ghs(entry, window)
        if rate is not None:
            out.append(reading("hashrate", rate))
            break
    avg = _hashrate_ghs(entry, "av")
    if avg is not None:
        out.append(reading("hashrate_avg", avg))
    for key, quantity in (
        ("Accepted", "shares_accepted"),
        ("Rejected", "shares_rejected"),
        ("Hardware Errors", "hw_errors"),
        ("Elapsed", "uptime"),
        ("Best Share", "best_diff"),
    ):
        value = maybe_float(entry, key)
        if value is not None:
            out.append(reading(quantity, value))
    return out


@dataclass(frozen=True, slots=True)
class StatsInfo:
    """What a ``stats`` reply says about the miner: ``miner_type`` (e.g. "Antminer S9")
    and the 1-based slots of the chains that answered (S9: 6, 7, 8)."""

    miner_type: str | None
    chain_slots: tuple[int, ...]


def _stats_entries(reply: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    entries = _section(reply, "STATS")
    miner_type: str | None = None
    data: dict[str, Any] = {}
    for entry in entries:
        if miner_type is None and isinstance(entry.get("Type"), str):
            miner_type = entry["Type"]
        keys = ("chain_acn", "temp", "fan", "Elapsed")
        if not data and any(key.startswith(keys) for key in entry):
            data = entry
    return miner_type, data


def stats_info(reply: dict[str, Any]) -> StatsInfo:
    """The miner type and the chain slots filled in a ``stats`` reply."""
    miner_type, data = _stats_entries(reply)
    slots = tuple(
        i for i in range(1, 17) if (maybe_float(data, f"chain_acn{i}") or 0.0) > 0
    )
    return StatsInfo(miner_type, slots)


def parse_stats(reply: dict[str, Any]) -> list[Reading]:
    """Readings of a bmminer ``stats`` reply (S9 layout), per chain (index 0.. in slot
    order): hashrate ``chain_rate<i>`` (``chain_hashrate``), board ``temp<i>``
    (``board_temp``), hottest chip ``temp2_<i>`` (``chip_temp_max``), clock
    ``freq_avg<i>`` (``chain_frequency``), hardware errors ``chain_hw<i>``, chip count
    ``chain_acn<i>``, ``chain_power<i>`` when a firmware reports it; fans ``fan1..fan8``
    (non-zero ones, as ``fan_rpm`` with the fan index); ``frequency``; power when a
    firmware reports it (``Power`` or ``chain_power``)."""
    _, data = _stats_entries(reply)
    out: list[Reading] = []
    if not data:
        return out
    slots = stats_info(reply).chain_slots
    for index, slot in enumerate(slots):
        chips = maybe_float(data, f"chain_acn{slot}")
        if chips is not None:
            out.append(reading("chain_chips", chips, index))
        rate = maybe_float(data, f"chain_rate{slot}")
        if rate is not None:
            out.append(reading("chain_hashrate", rate, index))
        board = maybe_float(data, f"temp{slot}")
        if board is not None:
            out.append(reading("board_temp", board, index))
        chip = maybe_float(data, f"temp2_{slot}")
        if chip is not None:
            out.append(reading("chip_temp_max", chip, index))
        freq = maybe_float(data, f"freq_avg{slot}")
        if freq is not None:
            out.append(reading("chain_frequency", freq, index))
        hw = maybe_float(data, f"chain_hw{slot}")
        if hw is not None:
            out.append(reading("chain_hw_errors", hw, index))
        power = maybe_float(data, f"chain_power{slot}")
        if power is not None:
            out.append(reading("chain_power", power, index))
    fan_index = 0
    for i in range(1, 9):
        rpm = maybe_float(data, f"fan{i}")
        if rpm:
            out.append(reading("fan_rpm", rpm, fan_index))
            fan_index += 1
    freq = maybe_float(data, "frequency")
    if freq is not None:
        out.append(reading("frequency", freq))
    for key in ("Power", "power", "chain_power"):
        power = maybe_float(data, key)
        if power is not None:
            out.append(reading("power", power))
            break
    return out


def parse_devs(reply: dict[str, Any]) -> list[Reading]:
    """Readings of a ``devs`` reply, one chain per entry in order: ``chain_hashrate``
    (``MHS 5s``/``MHS 20s`` in MH/s, or ``GHS``), ``chip_temp_max`` (``Temperature`` or
    ``tstemp-2``: the chain's hottest sensor), ``chain_hw_errors``."""
    out: list[Reading] = []
    for index, entry in enumerate(_section(reply, "DEVS")):
        for window in ("5s", "20s", "av"):
            rate = _hashrate_ghs(entry, window)
            if rate is not None:
                out.append(reading("chain_hashrate", rate, index))
                break
        for key in ("Temperature", "tstemp-2", "temp"):
            temp = maybe_float(entry, key)
            if temp is not None:
                out.append(reading("chip_temp_max", temp, index))
                break
        hw = maybe_float(entry, "Hardware Errors")
        if hw is not None:
            out.append(reading("chain_hw_errors", hw, index))
    return out


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """One pool from a ``pools`` reply; share counts are the pool's own counters."""

    index: int
    url: str
    user: str
    status: str
    active: bool
    accepted: int
    rejected: int


def parse_pools(reply: dict[str, Any]) -> list[PoolInfo]:
    """The pools of a ``pools`` reply."""
    pools: list[PoolInfo] = []
    for position, entry in enumerate(_section(reply, "POOLS")):
        pools.append(
            PoolInfo(
                index=int(maybe_float(entry, "POOL") or position),
                url=str(entry.get("URL", "")),
                user=str(entry.get("User", "")),
                status=str(entry.get("Status", "")),
                active=bool(entry.get("Stratum Active", False)),
                accepted=int(maybe_float(entry, "Accepted") or 0),
                rejected=int(maybe_float(entry, "Rejected") or 0),
            )
        )
    return pools


def parse_version(reply: dict[str, Any]) -> dict[str, str]:
    """The ``VERSION`` entry as strings (Type, CGMiner/BMMiner/BFGMiner, API, ...)."""
    entries = _section(reply, "VERSION")
    if not entries:
        raise ProtocolError("VERSION is empty")
    return {str(k): str(v) for k, v in entries[0].items()}
