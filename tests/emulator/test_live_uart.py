"""The chip UART face on a real pty, driven by the real-time physics model, opened by
hashrc's serial backend through `open_device` with the README's URL: the bridge cannot
tell it from a chain, and the nonces verify at the ticket difficulty it wrote."""

from __future__ import annotations

import time

from asic_bridge.device import open_device
from asic_bridge.events import ControlEvent, ShareEvent, StatusEvent, TimestampSource
from emulator.faces.uart import PtyUartFace, UartFaceConfig
from emulator.live import LiveEmulator


def test_readme_url_on_a_pty_chain_backed_by_physics() -> None:
    with LiveEmulator("lv06", seed=7, warm_up_s=300) as live, \
            PtyUartFace(live, UartFaceConfig(chip="BM1366", seed=7)) as face:
        # the README's URL, nothing else: the driver probes the chain and writes the
        # ticket difficulty it suggests; the face's hash-rate scale is automatic
        device = open_device(f"serial://{face.path}?chip=bm1366")
        try:
            ticket = device.driver.ticket_difficulty  # type: ignore[attr-defined]
            assert device.driver.emulated and ticket == 2.0**-16  # type: ignore[attr-defined]
            deadline = time.monotonic() + 15
            while face.chain.ticket_difficulty != ticket and time.monotonic() < deadline:
                time.sleep(0.02)  # the write crosses the pty at 115,200 baud
            assert face.chain.ticket_difficulty == ticket
            event = device.set_knob("frequency", 525, "MHz")
            assert isinstance(event, ControlEvent) and abs(event.value - 525) < 3
            while abs(live.frequency_mhz(0) - event.value) > 1e-6 and time.monotonic() < deadline:
                time.sleep(0.02)  # the frame crosses the pty at 115,200 baud
            assert abs(live.frequency_mhz(0) - event.value) < 1e-6  # the PLL write reached the model
            got: list = []
            while sum(isinstance(e, ShareEvent) for e in got) < 8 and time.monotonic() < deadline:
                time.sleep(0.1)
                got += list(device.events())
        finally:
            device.close()
    shares = [e for e in got if isinstance(e, ShareEvent)]
    assert len(shares) >= 8, (face.counters, device.driver.counters)  # type: ignore[attr-defined]
    assert all(s.chip == 0 and s.t_source is TimestampSource.SERIAL for s in shares)
    assert all(s.difficulty == ticket and s.share_difficulty >= ticket * 65535 / 65536
               for s in shares)
    assert device.driver.counters["bad_hash"] == 0  # type: ignore[attr-defined]
    assert not [e for e in got if isinstance(e, StatusEvent) and e.status == "no_valid_nonces"]
