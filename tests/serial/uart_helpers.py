"""Helpers shared by the serial tests (imported by module name; pytest puts this
directory on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.faces.uart import UartChainFace

PROOF = 2.0**-20  # ~4096 SHA-256d per share on the emulator

FaceFactory = Callable[..., tuple[UartChainFace, str]]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` every 10 ms until true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
