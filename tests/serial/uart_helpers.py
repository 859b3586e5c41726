"""Helpers shared by the serial tests (imported by module name; pytest puts this
directory on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.faces.uart import ConstantPhysics, UartChainFace, UartFaceConfig

TICKET = 2.0**-20  # ~4096 SHA-256d per nonce on the emulator; what the chains suggest
MHZ = 485.0  # ConstantPhysics' default clock
SMALL_CORES = 894

FaceFactory = Callable[..., tuple[UartChainFace, str]]


def physics_for(rate_hz: float, *, chips: int = 1, hw_error: float = 0.0,
                ticket: float = TICKET) -> ConstantPhysics:
    """A chain whose chips each return ``rate_hz`` nonces/s at ``ticket`` (hash-rate
    scale 1): hashrate = rate x ticket x 2**32 H/s."""
    speed = rate_hz * ticket * 2.0**32 / (MHZ * 1e6 * SMALL_CORES)
    return ConstantPhysics(chip_count=chips, frequency_mhz=MHZ, small_cores=SMALL_CORES,
                           speed=speed, hw_error_probability=hw_error)


def face_config(**config: object) -> UartFaceConfig:
    """Test chains: scale 1 (rates set by :func:`physics_for`), suggest :data:`TICKET`."""
    config.setdefault("seed", 1234)
    config.setdefault("hashrate_scale", 1.0)
    config.setdefault("suggested_ticket_difficulty", TICKET)
    return UartFaceConfig(**config)  # type: ignore[arg-type]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` every 10 ms until true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
