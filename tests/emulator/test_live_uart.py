"""The chip UART face on a real pty, driven by the real-time physics model, opened by
hashrc's serial backend through `open_device`: the bridge cannot tell it from a chain."""

from __future__ import annotations

import time

from asic_bridge.device import open_device
from asic_bridge.events import ControlEvent, ShareEvent, TimestampSource
from emulator.faces.uart import PtyUartFace, UartFaceConfig
from emulator.live import LiveEmulator

PROOF = 2.0**-16  # the real nonces the face mines meet this difficulty


def test_pty_chain_backed_by_physics() -> None:
    with LiveEmulator("lv06", seed=7, warm_up_s=300) as live, \
            PtyUartFace(live, UartFaceConfig(chip="BM1366", seed=7, proof_difficulty=PROOF)) as face:
        face.start()
        # ticket 8: 433.6 GH/s / (8 * 2^32) = 12.6 nonces/s from the model
        device = open_device(
            f"serial://{face.path}?chip=bm1366&baud=115200&ticket_difficulty=8"
            f"&verify_difficulty={PROOF}&job_interval_s=1"
        )
        try:
            event = device.set_knob("frequency", 525, "MHz")
            assert isinstance(event, ControlEvent) and abs(event.value - 525) < 3
            deadline = time.monotonic() + 10
            while abs(live.frequency_mhz(0) - event.value) > 1e-6 and time.monotonic() < deadline:
                time.sleep(0.02)  # the frame crosses the pty at 115,200 baud
            assert abs(live.frequency_mhz(0) - event.value) < 1e-6  # the PLL write reached the model
            shares: list[ShareEvent] = []
            while len(shares) < 8 and time.monotonic() < deadline:
                time.sleep(0.1)
                shares += [e for e in device.events() if isinstance(e, ShareEvent)]
        finally:
            device.close()
    assert len(shares) >= 8
    assert all(s.chip == 0 and s.t_source is TimestampSource.SERIAL for s in shares)
    assert all(s.share_difficulty >= PROOF * 0.999 for s in shares)
