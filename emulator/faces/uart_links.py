"""Byte pipes of the emulated chip UART: a real pseudo-terminal or one loopback TCP
client at a time. A read returns bytes, ``b""`` on timeout, None when the link is gone."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import tty


class Link:
    """A byte pipe to the host: blocking-with-timeout read, write, close."""

    def read(self, timeout_s: float) -> bytes | None:  # None: link gone
        raise NotImplementedError

    def write(self, data: bytes) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PtyLink(Link):
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._closed = False

    def read(self, timeout_s: float) -> bytes | None:
        if self._closed:
            return None
        try:
            ready, _, _ = select.select([self.master], [], [], timeout_s)
            if not ready:
                return b""
            return os.read(self.master, 4096) or None
        except (OSError, ValueError):
            return None

    def write(self, data: bytes) -> bool:
        if self._closed:
            return False
        try:
            os.write(self.master, data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self.master, self.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)


class TcpLink(Link):
    """One client at a time on 127.0.0.1; a new client replaces the old one."""

    def __init__(self, host: str, port: int) -> None:
        self.server = socket.create_server((host, port))
        self.server.settimeout(0.0)
        self.address = self.server.getsockname()
        self.client: socket.socket | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, OSError):
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            old, self.client = self.client, conn
        if old is not None:
            old.close()

    def read(self, timeout_s: float) -> bytes | None:
        if self._closed:
            return None
        watch = [self.server] + ([self.client] if self.client else [])
        try:
            ready, _, _ = select.select(watch, [], [], timeout_s)
        except (OSError, ValueError):
            return None if self._closed else b""
        if self.server in ready:
            self._accept()
        client = self.client
        if client is not None and client in ready:
            try:
                data = client.recv(4096)
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    if self.client is client:
                        self.client = None
                client.close()
            return data
        return b""

    def write(self, data: bytes) -> bool:
        client = self.client
        if client is None:
            return False
        try:
            client.sendall(data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            client, self.client = self.client, None
        if client is not None:
            client.close()
        self.server.close()
