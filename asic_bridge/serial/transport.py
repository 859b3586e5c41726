"""A thin byte pump over pyserial: any URL ``serial.serial_for_url`` opens works
(``/dev/ttyUSB0``, a pty path, ``socket://127.0.0.1:PORT``, ``loop://``).

No protocol here: :meth:`SerialTransport.read` returns whatever bytes arrived, with the
host time at which the read returned. Link failures become :class:`DeviceError`.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time

import serial

from asic_bridge.errors import DeviceError, DeviceUnreachable


class SerialTransport:
    """One serial link. Baud in baud; timeouts in seconds."""

    def __init__(self, url: str, *, baud: int = 115_200) -> None:
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        self.url = url
        self._baud = baud
        self._port: serial.SerialBase | None = None
        self._fd: int | None = None
        self._write_lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    @property
    def baud(self) -> int:
        return self._baud

    def open(self) -> None:
        """Open (or reopen) the link; raises DeviceError if it cannot be opened."""
        self.close()
        try:
            port = serial.serial_for_url(self.url, baudrate=self._baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnreachable(f"cannot open serial link {self.url!r}: {exc}; check the "
                                    f"port path and its permissions") from exc
        self._port = port
        try:
            self._fd = port.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            self._fd = None  # e.g. loop://: polled instead of select()ed

    def close(self) -> None:
        """Close the link. Idempotent."""
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def set_baud(self, baud: int) -> None:
        """Change the host side's baud rate (after the chips were told to switch)."""
        self._baud = baud
        if self._port is not None:
            try:
                self._port.baudrate = baud
            except (serial.SerialException, OSError, ValueError) as exc:
                raise DeviceError(f"cannot set {baud} baud on {self.url!r}: {exc}") from exc

    def write(self, data: bytes) -> None:
        """Send bytes; raises DeviceError when the link is closed or fails."""
        port = self._port
        if port is None:
            raise DeviceError(f"serial link {self.url!r} is not open")
        with self._write_lock:
            try:
                port.write(data)
                port.flush()
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"write to {self.url!r} failed: {exc}") from exc

    def read(self, timeout_s: float) -> tuple[bytes, int]:
        """Wait up to ``timeout_s`` for bytes; return (bytes, time.time_ns() when the
        read returned). Empty bytes on timeout; DeviceError when the link is gone."""
        port = self._port
        if port is None:
            raise DeviceError(f"serial link {self.url!r} is not open")
        try:
            if self._fd is not None:
                ready, _, _ = select.select([self._fd], [], [], timeout_s)
                if not ready:
                    return b"", time.time_ns()
            data = port.read(65536)
            if not data and self._fd is None:
                time.sleep(min(timeout_s, 0.002))
                data = port.read(65536)
            return bytes(data), time.time_ns()
        except (serial.SerialException, OSError, ValueError, TypeError) as exc:
            raise DeviceError(f"serial link {self.url!r} closed: {exc}") from exc
