"""Stratum V1 wire codec: newline-delimited JSON-RPC lines to messages and back, no I/O.

:class:`LineSplitter` cuts a byte stream into lines (bounded at :data:`MAX_LINE_BYTES`);
:func:`parse_message` turns one line into a :class:`Request`, :class:`Notification` or
:class:`Response`; the ``encode_*`` functions build lines (``bytes`` ending in ``\\n``).
Every malformed input raises :class:`~asic_bridge.errors.ProtocolError` with a message a
human can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from asic_bridge.errors import ProtocolError

MAX_LINE_BYTES = 64 * 1024
"""Longest accepted line, newline excluded (64 KiB)."""

JsonId = int | str | None


@dataclass(frozen=True, slots=True)
class Request:
    """A call expecting an answer (``id`` is not null)."""

    id: int | str
    method: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Notification:
    """A call without an answer (``id`` null or absent), e.g. ``mining.notify``."""

    method: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Response:
    """An answer to a request. ``reject_reason`` is ckpool's extra field, if present."""

    id: JsonId
    result: Any
    error: Any
    reject_reason: str | None = None

    @property
    def ok(self) -> bool:
        """True for an accepting answer (no error, no reject reason, result not false)."""
        return self.error is None and self.reject_reason is None and self.result is not False


Message = Request | Notification | Response


class LineSplitter:
    """Cut a byte stream into lines; raise on a line longer than ``max_line_bytes``.

    ``feed`` returns the complete lines received so far, without ``\\n``/``\\r\\n``,
    skipping empty ones. After a :class:`ProtocolError` the stream cannot be trusted:
    close the connection.
    """

    __slots__ = ("_buffer", "max_line_bytes")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._buffer = b""

    @property
    def pending(self) -> int:
        """Bytes held back waiting for a newline."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        if b"\n" not in buffer:
            self._buffer = buffer
            self._check(buffer)
            return []
        *lines, rest = buffer.split(b"\n")
        self._buffer = rest
        out = []
        for line in lines:
            if len(line) > self.max_line_bytes:
                raise ProtocolError(
                    f"line of {len(line)} bytes exceeds {self.max_line_bytes} bytes"
                )
            line = line.rstrip(b"\r")
            if line.strip():
                out.append(line)
        self._check(rest)
        return out

    def _check(self, pending: bytes) -> None:
        if len(pending) > self.max_line_bytes:
            raise ProtocolError(f"line exceeds {self.max_line_bytes} bytes without a newline")


def parse_message(line: bytes | str) -> Message:
    """Parse one JSON-RPC line into a message; :class:`ProtocolError` if it is not one."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    except RecursionError:  # e.g. 30,000 nested brackets: this line only, not the stream
        raise ProtocolError("JSON nested too deeply (a Stratum message is 3 levels deep)") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {type(obj).__name__}")
    msg_id = obj.get("id")
    if msg_id is not None and (not isinstance(msg_id, int | str) or isinstance(msg_id, bool)):
        raise ProtocolError(f"id must be an integer, a string or null, got {msg_id!r}")
    method = obj.get("method")
    if method is not None:
        if not isinstance(method, str):
            raise ProtocolError(f"method must be a string, got {type(method).__name__}")
        params = obj.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            raise ProtocolError(f"params of {method} must be a JSON array")
        if msg_id is None:
            return Notification(method, params)
        return Request(msg_id, method, params)
    if "result" in obj or "error" in obj:
        reason = obj.get("reject-reason")
        return Response(
            msg_id, obj.get("result"), obj.get("error"), reason if isinstance(reason, str) else None
        )
    raise ProtocolError("a message needs a method (call) or a result/error (answer)")


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def encode_request(msg_id: int | str, method: str, params: list[Any]) -> bytes:
    """A request line."""
    return _dumps({"id": msg_id, "method": method, "params": params})


def encode_notification(method: str, params: list[Any]) -> bytes:
    """A notification line (``id`` null), e.g. ``mining.set_difficulty``."""
    return _dumps({"id": None, "method": method, "params": params})


def encode_response(
    msg_id: JsonId, result: Any, error: Any = None, *, reject_reason: str | None = None
) -> bytes:
    """An answer line; ``reject_reason`` adds ckpool's ``reject-reason`` field."""
    obj: dict[str, Any] = {"id": msg_id, "result": result, "error": error}
    if reject_reason is not None:
        obj["reject-reason"] = reject_reason
    return _dumps(obj)


_TRUE_TAIL = b',"result":true,"error":null}\n'


def encode_true(msg_id: JsonId) -> bytes:
    """The common ``{"id":..,"result":true,"error":null}`` answer, built fast."""
    if type(msg_id) is int:
        return b'{"id":' + str(msg_id).encode() + _TRUE_TAIL
    return b'{"id":' + json.dumps(msg_id).encode() + _TRUE_TAIL


def error_text(error: Any) -> str:
    """A one-line text of an error in any of the forms peers use (array, string, object)."""
    if error is None:
        return ""
    if isinstance(error, list) and len(error) >= 2:
        return f"{error[1]} ({error[0]})"
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error)
