"""Thin blocking pumps for the management APIs; no protocol knowledge beyond framing.

Every request has one **deadline** (``timeout_s`` from its start: connect, send and the
whole reply), not a timeout per read: a server that drips one byte a second fails the
request at its deadline. Every reply is **bounded** (``max_bytes``). Every I/O failure
becomes a :class:`~asic_bridge.errors.DeviceError` subclass with the address in its
message: :class:`DeviceTimeout` (deadline passed; also a ``TimeoutError``),
:class:`LinkError` (refused, reset, closed early, too large), :class:`HttpStatusError`
(HTTP status outside 2xx). Each request opens its own connection, so "reconnect" is
simply the next request: a device that rebooted is picked up again without any state to
repair.
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from typing import Any

from asic_bridge.api.readings import json_object
from asic_bridge.errors import DeviceTimeout, HttpStatusError, LinkError

__all__ = [
    "MAX_REPLY_BYTES",
    "DeviceTimeout",
    "HttpJsonClient",
    "HttpStatusError",
    "LinkError",
    "tcp_request",
]

MAX_REPLY_BYTES = 1 << 20
"""Largest reply accepted, bytes (1 MiB: an AxeOS info object is ~2 KB, a bmminer
``stats`` reply of an S9 ~10 KB)."""

_HEADER_BYTES = 64 * 1024


class _Deadline:
    """Seconds left until a fixed monotonic instant."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"timeout_s must be positive, got {seconds}")
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


def _connect(host: str, port: int, deadline: _Deadline) -> socket.socket:
    return socket.create_connection((host, port), timeout=deadline.remaining())


def _recv(sock: socket.socket, deadline: _Deadline) -> bytes:
    sock.settimeout(deadline.remaining())
    return sock.recv(65536)


def tcp_request(
    host: str, port: int, payload: bytes, *, timeout_s: float, max_bytes: int = MAX_REPLY_BYTES
) -> bytes:
    """Send ``payload`` on a new TCP connection and return everything up to the NUL
    terminator or the peer's close (the cgminer API's one-request-per-connection).
    ``timeout_s`` is the deadline of the whole request, s."""
    where = f"{host}:{port}"
    deadline = _Deadline(timeout_s)
    chunks: list[bytes] = []
    size = 0
    try:
        with _connect(host, port, deadline) as sock:
            sock.settimeout(deadline.remaining())
            sock.sendall(payload)
            while True:
                chunk = _recv(sock, deadline)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise LinkError(f"{where}: reply exceeds {max_bytes} bytes")
                if b"\x00" in chunk:
                    break
    except TimeoutError:
        raise DeviceTimeout(f"{where}: no complete reply within {timeout_s:g} s") from None
    except OSError as exc:
        raise LinkError(f"{where}: {exc.strerror or exc}") from None
    data = b"".join(chunks)
    if not data:
        raise LinkError(f"{where}: connection closed without a reply")
    return data


class _BytesSocket:
    """Just enough of a socket for :class:`http.client.HTTPResponse` to parse bytes."""

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    def makefile(self, *_: Any, **__: Any) -> io.BytesIO:
        return self._file


def _reply_complete(data: bytes) -> bool:
    """True once ``data`` holds a whole HTTP reply (by Content-Length or the last chunk);
    False means read on (until the peer closes, at the latest)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    head = data[:head_end].lower()
    body = data[head_end + 4:]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"content-length" and value.isdigit():
            return len(body) >= int(value)
        if name == b"transfer-encoding" and b"chunked" in value:
            return body.endswith(b"0\r\n\r\n")
    status = data[:data.find(b"\r\n")].split()
    return len(status) > 1 and status[1] in (b"204", b"304")


class HttpJsonClient:
    """Minimal HTTP/1.1 client for JSON APIs: one connection per request, one deadline
    (``timeout_s``) per request, replies bounded by ``max_bytes``."""

    def __init__(self, host: str, port: int, *, timeout_s: float,
                 max_bytes: int = MAX_REPLY_BYTES) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def _raw(self, method: str, path: str, body: bytes | None,
             headers: dict[str, str]) -> bytes:
        deadline = _Deadline(self.timeout_s)
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        limit = self.max_bytes + _HEADER_BYTES
        data = bytearray()
        with _connect(self.host, self.port, deadline) as sock:
            sock.settimeout(deadline.remaining())
            sock.sendall(request)
            while True:
                chunk = _recv(sock, deadline)
                if not chunk:
                    break
                data += chunk
                if len(data) > limit:
                    raise LinkError(f"reply exceeds {self.max_bytes} bytes")
                if _reply_complete(bytes(data)):
                    break
        return bytes(data)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The reply body of one request; raises on transport failure or non-2xx."""
        where = f"http://{self.host}:{self.port}{path}"
        all_headers = {"Accept": "application/json", "Connection": "close", **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            raw = self._raw(method, path, body, all_headers)
        except TimeoutError:
            raise DeviceTimeout(
                f"{method} {where}: no complete reply within {self.timeout_s:g} s") from None
        except LinkError as exc:
            raise LinkError(f"{method} {where}: {exc}") from None
        except OSError as exc:
            raise LinkError(f"{method} {where}: {exc.strerror or exc}") from None
        if not raw:
            raise LinkError(f"{method} {where}: connection closed without a reply")
        response = http.client.HTTPResponse(_BytesSocket(raw), method=method)  # type: ignore[arg-type]
        try:
            response.begin()
            data = response.read(self.max_bytes + 1)
        except (http.client.HTTPException, ValueError) as exc:
            raise LinkError(f"{method} {where}: malformed HTTP reply "
                            f"({type(exc).__name__}: {exc})") from None
        if len(data) > self.max_bytes:
            raise LinkError(f"{method} {where}: reply exceeds {self.max_bytes} bytes")
        if not 200 <= response.status < 300:
            raise HttpStatusError(
                f"{method} {where}: HTTP {response.status} {response.reason}", response.status
            )
        return data

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """GET ``path`` and decode a JSON object (ProtocolError when malformed)."""
        return json_object(self.request("GET", path, headers=headers), what=f"GET {path}")
