"""Serial tests: fail a test that leaks any thread (daemon too) or file descriptor (ptys,
sockets); provide emulated chains on a pty and on loopback TCP."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import pytest
from uart_helpers import FaceFactory, face_config, physics_for

from emulator.faces.uart import PtyUartFace, TcpUartFace, UartChainFace


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_serial_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        fds = _fds() - fds_before
        if not leaked and not fds:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
    fd_targets = []
    for fd in fds:
        with contextlib.suppress(OSError):
            fd_targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert not fd_targets, f"test leaked fds: {fd_targets}"


@pytest.fixture(params=["pty", "tcp"])
def make_face(request: pytest.FixtureRequest) -> Iterator[FaceFactory]:
    """Start an emulated chain; returns (face, URL for pyserial). Closed after the test."""
    faces: list[UartChainFace] = []

    def factory(*, chips: int = 1, rate: float = 2.0, hw_error: float = 0.0,
                **config: object) -> tuple[UartChainFace, str]:
        """``rate``: nonces/s per chip at the suggested ticket difficulty."""
        physics = physics_for(rate, chips=chips, hw_error=hw_error)
        cfg = face_config(**config)
        if request.param == "pty":
            face: UartChainFace = PtyUartFace(physics, cfg).start()
            url = face.path  # type: ignore[attr-defined]
        else:
            face = TcpUartFace(physics, cfg).start()
            url = face.url  # type: ignore[attr-defined]
        faces.append(face)
        return face, url

    yield factory
    for face in faces:
        face.close()
