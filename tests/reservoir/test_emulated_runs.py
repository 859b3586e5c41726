"""Runs on the emulator: every encoder drives its knob inside the envelope, the
time-multiplexed one per sub-interval (features folded per input), the disconnected twin
holds the knob at the mean encoded value."""

import numpy as np
import pytest

from asic_bridge.capture import CaptureReader
from asic_bridge.models import spec_for
from reservoir.emulated_runs import emulated_run
from reservoir.encoders import encoder_for
from reservoir.protocol import Protocol
from reservoir.tasks import uniform_input


def _controls(path, knob: str) -> np.ndarray:
    with CaptureReader(path) as reader:
        df = reader.dataframe("control")
    return df.loc[df["knob"] == knob, "requested"].to_numpy(float)


@pytest.mark.parametrize(("model", "encoding", "sub_steps"), [
    ("lv06", "tm-voltage", 4), ("lbbox", "difficulty", 1), ("s9", "frequency", 1),
])
def test_encoders_drive_the_emulator(tmp_path, model, encoding, sub_steps) -> None:
    proto = Protocol(steps=40, washout=5, encoding=encoding, sub_steps=sub_steps)
    run = emulated_run(model, proto, seed=3, serial="T-1", out_dir=tmp_path)
    off = emulated_run(model, proto, seed=3, serial="T-1", out_dir=tmp_path, disconnected=True)
    spec = spec_for(model)
    enc = encoder_for(encoding, spec, sub_steps=sub_steps)
    u = uniform_input(40, seed=3)
    assert np.array_equal(run.u, u)
    sent = _controls(tmp_path / run.capture, enc.knob)
    assert sent == pytest.approx(enc.encode(u))  # one setting per sub-interval, as encoded
    low, high = spec.knob_range(enc.knob)
    assert np.all((sent >= low) & (sent <= high))
    held = _controls(tmp_path / off.capture, enc.knob)
    assert held == pytest.approx(np.full(40 * sub_steps, enc.encode(u).mean()))
    assert run.features.shape[0] == 40 and off.disconnected and not run.disconnected
    if sub_steps > 1:
        assert run.feature_names[0].endswith("@0") and run.features.shape[1] % sub_steps == 0
