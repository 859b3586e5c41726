"""Typed parameters of each Stratum method: validate a ``params`` list, return values.

Each ``parse_*`` function raises :class:`~asic_bridge.errors.ProtocolError` naming the
method and the parameter at fault, also for a string longer than its stated maximum
(:data:`MAX_JOB_ID_CHARS`, :data:`MAX_USER_CHARS`, :data:`MAX_EXTRANONCE2_HEX`,
:data:`MAX_STRING_CHARS`), so nothing a peer sends is kept
unbounded. Used by the pool (client calls) and by clients (pool
calls), so a client can reuse them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from asic_bridge.errors import ProtocolError

_HEX = frozenset("0123456789abcdefABCDEF")

MAX_JOB_ID_CHARS = 64
"""Longest job id accepted from a peer (pools use a few hex digits)."""
MAX_USER_CHARS = 256
"""Longest user / worker name or password (a bech32 address plus a worker suffix is ~100)."""
MAX_STRING_CHARS = 256
"""Longest other string parameter (user agent, session id, extension names)."""
MAX_EXTRANONCE2_HEX = 64
"""Longest extranonce2 accepted at parse (32 bytes, twice the largest configurable size;
the share check then holds it to the pool's extranonce2 size)."""
MAX_EXTENSIONS = 16
"""Most ``mining.configure`` extensions in one call."""


def _require(method: str, params: list[Any], count: int, names: str) -> None:
    if len(params) < count:
        raise ProtocolError(f"{method} needs {count} params ({names}), got {len(params)}")


def _string(method: str, name: str, value: Any, max_chars: int | None = MAX_STRING_CHARS) -> str:
    """A string parameter of at most ``max_chars`` characters (None: bounded by the line)."""
    if not isinstance(value, str):
        raise ProtocolError(f"{method}: {name} must be a string, got {type(value).__name__}")
    if max_chars is not None and len(value) > max_chars:
        raise ProtocolError(
            f"{method}: {name} is {len(value)} characters, longer than the {max_chars} allowed"
        )
    return value


def hex_bytes(method: str, name: str, value: Any, max_chars: int | None = None) -> bytes:
    """A hex string parameter (at most ``max_chars`` digits; None: bounded by the line,
    as for a coinbase part from an upstream pool) as bytes."""
    text = _string(method, name, value, max_chars)
    if len(text) % 2 or not _HEX.issuperset(text):
        raise ProtocolError(
            f"{method}: {name} must be an even-length hex string, got {text[:40]!r}"
        )
    return bytes.fromhex(text)


def hex_u32(method: str, name: str, value: Any) -> int:
    """A hex string of 1..8 digits as an unsigned 32-bit integer."""
    text = _string(method, name, value)
    if not 0 < len(text) <= 8 or not _HEX.issuperset(text):
        raise ProtocolError(f"{method}: {name} must be 1-8 hex digits, got {text[:40]!r}")
    return int(text, 16)


def positive_number(method: str, name: str, value: Any) -> float:
    """A finite number > 0, given as a JSON number or a numeric string (ckpool's old form)."""
    if isinstance(value, bool):
        raise ProtocolError(f"{method}: {name} must be a number, got a boolean")
    if isinstance(value, str):
        _string(method, name, value, 64)
        try:
            value = float(value)
        except ValueError:
            raise ProtocolError(f"{method}: {name} must be a number, got {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise ProtocolError(f"{method}: {name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ProtocolError(f"{method}: {name} must be a finite number > 0, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class Submit:
    """``mining.submit`` parameters as values; ``version_bits`` None when not sent."""

    worker: str
    job_id: str
    extranonce2: bytes
    ntime: int
    nonce: int
    version_bits: int | None = None


def parse_submit(params: list[Any]) -> Submit:
    """``[worker, job_id, extranonce2, ntime, nonce, version_bits?]``, all hex but worker/job."""
    m = "mining.submit"
    _require(m, params, 5, "worker, job_id, extranonce2, ntime, nonce")
    worker = _string(m, "worker", params[0], MAX_USER_CHARS)
    job_id = _string(m, "job_id", params[1], MAX_JOB_ID_CHARS)
    extranonce2 = hex_bytes(m, "extranonce2", params[2], MAX_EXTRANONCE2_HEX)
    ntime = hex_u32(m, "ntime", params[3])
    nonce = hex_u32(m, "nonce", params[4])
    version_bits = None
    if len(params) > 5 and params[5] is not None:
        version_bits = hex_u32(m, "version_bits", params[5])
    return Submit(worker, job_id, extranonce2, ntime, nonce, version_bits)


def encode_submit_params(
    worker: str, job_id: str, extranonce2: bytes, ntime: int, nonce: int, version_bits: int | None
) -> list[str]:
    """Client side: the params list of a ``mining.submit``."""
    params = [worker, job_id, extranonce2.hex(), f"{ntime:08x}", f"{nonce:08x}"]
    if version_bits is not None:
        params.append(f"{version_bits:08x}")
    return params


def parse_configure(params: list[Any]) -> tuple[list[str], dict[str, Any]]:
    """``[[extension, ...], {extension.param: value}]`` (BIP310)."""
    m = "mining.configure"
    _require(m, params, 1, "extensions")
    extensions = params[0]
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        raise ProtocolError(f"{m}: extensions must be an array of strings")
    if len(extensions) > MAX_EXTENSIONS:
        raise ProtocolError(f"{m}: {len(extensions)} extensions, more than the {MAX_EXTENSIONS} allowed")
    for ext in extensions:
        _string(m, "extension name", ext)
    options = params[1] if len(params) > 1 else {}
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ProtocolError(f"{m}: extension parameters must be an object")
    return extensions, options


def parse_version_mask(method: str, value: Any) -> int:
    """A 32-bit mask given as 8 hex digits."""
    return hex_u32(method, "version-rolling.mask", value)


def parse_subscribe(params: list[Any]) -> tuple[str | None, str | None]:
    """``[agent?, session_id?]``; both optional."""
    m = "mining.subscribe"
    agent = _string(m, "user agent", params[0]) if params and params[0] is not None else None
    session = params[1] if len(params) > 1 and isinstance(params[1], str) else None
    if session is not None:
        _string(m, "session id", session)
    return agent, session


def parse_authorize(params: list[Any]) -> tuple[str, str]:
    """``[user, password?]``."""
    m = "mining.authorize"
    _require(m, params, 1, "user, password")
    user = _string(m, "user", params[0], MAX_USER_CHARS)
    password = params[1] if len(params) > 1 and params[1] is not None else ""
    return user, _string(m, "password", password, MAX_USER_CHARS)


SUGGEST_DIFFICULTY = "mining.suggest_difficulty"


def parse_suggest_difficulty(method: str, params: list[Any]) -> float:
    """``[d]`` with d a number or numeric string, or ckpool's old form with the value in
    the method name: ``mining.suggest_difficulty(0.5)``."""
    if method != SUGGEST_DIFFICULTY:
        inner = method[len(SUGGEST_DIFFICULTY) :].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            raise ProtocolError(f"unknown method {method[:60]!r}")
        return positive_number(SUGGEST_DIFFICULTY, "difficulty", inner[1:-1].strip())
    _require(method, params, 1, "difficulty")
    return positive_number(method, "difficulty", params[0])


def parse_set_difficulty(params: list[Any]) -> float:
    """Client side: ``mining.set_difficulty [d]``."""
    _require("mining.set_difficulty", params, 1, "difficulty")
    return positive_number("mining.set_difficulty", "difficulty", params[0])


def parse_subscribe_result(result: Any) -> tuple[bytes, int]:
    """Client side: ``[subscriptions, extranonce1_hex, extranonce2_size]`` -> (en1, size)."""
    m = "mining.subscribe result"
    if not isinstance(result, list) or len(result) < 3:
        raise ProtocolError(f"{m} must be [subscriptions, extranonce1, extranonce2_size]")
    en1 = hex_bytes(m, "extranonce1", result[1])
    size = result[2]
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 32:
        raise ProtocolError(f"{m}: extranonce2_size must be an integer in 0..32, got {size!r}")
    return en1, size
