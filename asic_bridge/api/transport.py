"""Thin blocking pumps for the management APIs; no protocol knowledge beyond framing.

Every I/O failure becomes a :class:`~asic_bridge.errors.DeviceError` subclass with the
address in its message: :class:`DeviceTimeout` (no answer in time),
:class:`LinkError` (refused, reset, closed early), :class:`HttpStatusError` (HTTP status
outside 2xx). Each request opens its own connection, so "reconnect" is simply the next
request: a device that rebooted is picked up again without any state to repair.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any

from asic_bridge.api.readings import json_object
from asic_bridge.errors import DeviceError

MAX_REPLY_BYTES = 8 * 1024 * 1024


class DeviceTimeout(DeviceError):
    """The device did not answer within the timeout."""


class LinkError(DeviceError):
    """The connection was refused, reset or closed before a full reply."""


class HttpStatusError(DeviceError):
    """An HTTP reply with a status outside 2xx; ``status`` holds it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def tcp_request(
    host: str, port: int, payload: bytes, *, timeout_s: float, max_bytes: int = MAX_REPLY_BYTES
) -> bytes:
    """Send ``payload`` on a new TCP connection and return everything up to the NUL
    terminator or the peer's close (the cgminer API's one-request-per-connection).
    ``timeout_s`` bounds the connect and each read."""
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(payload)
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if b"\x00" in chunk:
                    break
                if size > max_bytes:
                    raise LinkError(f"{where}: reply exceeds {max_bytes} bytes")
    except TimeoutError:
        raise DeviceTimeout(f"{where}: no reply within {timeout_s:g} s") from None
    except OSError as exc:
        raise LinkError(f"{where}: {exc.strerror or exc}") from None
    data = b"".join(chunks)
    if not data:
        raise LinkError(f"{where}: connection closed without a reply")
    return data


class HttpJsonClient:
    """Minimal HTTP/1.1 client for JSON APIs: one connection per request."""

    def __init__(self, host: str, port: int, *, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

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
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read(MAX_REPLY_BYTES + 1)
        except TimeoutError:
            raise DeviceTimeout(f"{method} {where}: no reply within {self.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise LinkError(f"{method} {where}: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        if len(data) > MAX_REPLY_BYTES:
            raise LinkError(f"{method} {where}: reply exceeds {MAX_REPLY_BYTES} bytes")
        if not 200 <= response.status < 300:
            raise HttpStatusError(
                f"{method} {where}: HTTP {response.status} {response.reason}", response.status
            )
        return data

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """GET ``path`` and decode a JSON object (ProtocolError when malformed)."""
        return json_object(self.request("GET", path, headers=headers), what=f"GET {path}")
