"""What the live emulator's faces report comes from the model's own nodes: board
temperature from the lagged board node, overheat_mode from the trip state."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.live import LiveEmulator


@pytest.mark.parametrize("model", ["lv06", "s9"])
def test_snapshot_board_temperature_and_overheat_come_from_the_model(model: str) -> None:
    live = LiveEmulator(model, seed=1, warm_up_s=120)  # not started: no miner, no clock thread
    device = live.device
    board = np.asarray(device.physics.board_c, dtype=float)
    assert not np.allclose(board, device.physics.sink_c.reshape(device.spec.chains, -1).mean(1) - 5)
    snap = live.snapshot()
    assert [c["board_temp_c"] for c in snap["chains"]] == pytest.approx(list(board))
    assert snap["overheat_mode"] is False
    device.last_state.tripped = True  # the firmware's overheat protection holds
    assert live.snapshot()["overheat_mode"] is True
