"""Kernel receive timestamps of TCP bytes (Linux ``SO_TIMESTAMPNS``), with a fallback.

:func:`enable_rx_timestamps` asks the kernel to timestamp arriving data on a socket;
:func:`recv_timestamped` reads with ``recvmsg`` and returns the data with the kernel's
receive time (ns since the Unix epoch, ``CLOCK_REALTIME``) when the kernel supplied one,
else ``time.time_ns()`` at return and the USERSPACE flag. For TCP the kernel reports the
time of the most recent segment in the read.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

from asic_bridge.events import TimestampSource

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: SO_TIMESTAMPNS_OLD = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
_ANC_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 64
_KERNEL = TimestampSource.KERNEL
_USER = TimestampSource.USERSPACE


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Turn on kernel receive timestamps; False where the platform has none."""
    if not sys.platform.startswith("linux") or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv_timestamped(sock: socket.socket, bufsize: int) -> tuple[bytes, int, TimestampSource]:
    """Read up to ``bufsize`` bytes: ``(data, t_ns, source)``. Raises what ``recv`` raises
    (``BlockingIOError`` on a non-blocking socket with nothing to read)."""
    data, ancdata, _flags, _addr = sock.recvmsg(bufsize, _ANC_BYTES)
    for level, kind, payload in ancdata:
        if (
            level == socket.SOL_SOCKET
            and kind == SCM_TIMESTAMPNS
            and len(payload) >= _TIMESPEC.size
        ):
            sec, nsec = _TIMESPEC.unpack_from(payload)
            return data, sec * 1_000_000_000 + nsec, _KERNEL
    return data, time.time_ns(), _USER


def recv_plain(sock: socket.socket, bufsize: int) -> tuple[bytes, int, TimestampSource]:
    """Fallback reader with userspace time, same contract as :func:`recv_timestamped`."""
    data = sock.recv(bufsize)
    return data, time.time_ns(), _USER
