import numpy as np
import pytest

from asic_bridge.errors import EnvelopeError, UnknownKnobError
from asic_bridge.models import LV06, S9, SPECS
from emulator.device import EmulatedDevice
from reservoir.encoders import DifficultyEncoder, FrequencyEncoder


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_frequency_encoder_stays_inside_the_envelope(spec) -> None:
    enc = FrequencyEncoder(spec)
    low, high = spec.frequency_range_mhz
    values = enc.encode(np.array([-1.0, 0.0, 0.25, 0.5, 3.0]))
    assert values[0] == low and values[1] == low
    assert values[3] == high and values[4] == high
    assert values[2] == pytest.approx((low + high) / 2)


def test_difficulty_encoder_is_the_published_one_and_clamps() -> None:
    enc = DifficultyEncoder(LV06)
    assert enc.encode(np.array([0.0]))[0] == pytest.approx(500.0)
    assert enc.encode(np.array([0.5]))[0] == pytest.approx(25 / 0.55)
    tiny = DifficultyEncoder(LV06, d0=1e-9)
    assert tiny.encode(np.array([0.5]))[0] == LV06.difficulty_range[0]
    assert enc.mean_rate_difficulty() == pytest.approx(25 / 0.3)


def test_device_refuses_commands_outside_the_envelope_unless_overridden() -> None:
    dev = EmulatedDevice("lv06", seed=0, warm_up_s=0)
    with pytest.raises(EnvelopeError, match="outside the safe envelope"):
        dev.set_knob("frequency", 800, "MHz")
    with pytest.raises(EnvelopeError):
        dev.set_knob("core_voltage", 1500, "mV")
    with pytest.raises(UnknownKnobError):
        dev.set_knob("frequency", 0.5, "GHz")
    with pytest.raises(UnknownKnobError):
        dev.set_knob("turbo", 1, "1")
    event = dev.set_knob("frequency", 590, "MHz", override=True)
    assert event.requested == 590 and abs(event.value - 590) < 5  # lands on the PLL grid


def test_s9_voltage_knob_is_the_chain_supply() -> None:
    assert S9.check("core_voltage", 8800, "mV") == 8800
    with pytest.raises(EnvelopeError):
        S9.check("core_voltage", 420, "mV")
