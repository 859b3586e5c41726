"""Physical sanity of the emulator: each test states a law and could fail."""

import numpy as np
import pytest
from scipy import stats

from asic_bridge.events import ShareEvent, ShareOutcome, TelemetryEvent
from emulator.device import EmulatedDevice
from emulator.physics.model import DevicePhysics
from emulator.physics.timing import error_probability, fmax_mhz
from emulator.physics.variation import draw_variation
from emulator.profiles import LV06_PHYSICS, PROFILES


def _run(dev: EmulatedDevice, seconds: float) -> list:
    dev.clock.sleep(seconds)
    return list(dev.events())


def _steady_die_c(freq_mhz: float, model: str = "lv06") -> float:
    profile = PROFILES[model]
    physics = DevicePhysics(profile, draw_variation(profile, "X-1"))
    physics.set_fan_pct(100.0)  # fixed fan: compare heat, not the controller
    physics.set_frequency_mhz(freq_mhz)
    physics.warm_up(1200, 0.5)
    assert not physics.tripped
    return float(physics.die_c.mean())


def test_overheat_protection_cuts_the_chips() -> None:
    profile = PROFILES["s9"]
    physics = DevicePhysics(profile, draw_variation(profile, "X-1"))
    physics.set_fan_pct(5.0)  # a failed fan
    physics.set_frequency_mhz(750.0)
    states = [physics.step(0.5) for _ in range(2400)]
    assert any(s.tripped for s in states)
    assert np.all(np.isfinite(physics.die_c)) and physics.die_c.max() < profile.overheat_c + 10
    tripped = next(s for s in states if s.tripped)
    assert tripped.hashrate_hs.sum() == 0.0


@pytest.mark.parametrize("model", sorted(PROFILES))
def test_hotter_at_higher_clock(model: str) -> None:
    spec = PROFILES[model].spec
    low = spec.frequency_range_mhz[0]
    assert _steady_die_c(spec.default_frequency_mhz, model) > _steady_die_c(low, model) + 2.0


def test_leakage_feedback_makes_heat_superlinear_in_power() -> None:
    # with leakage rising with temperature, the die heats more than the dynamic power alone;
    # the leakage is pinned to the profile's own reference temperature (60 C for the LV06)
    profile = LV06_PHYSICS
    physics = DevicePhysics(profile, draw_variation(profile, "X-1"))
    physics.set_fan_pct(60.0)
    physics.warm_up(1200, 0.5)
    state = physics.step(0.1)
    dynamic = physics.c_eff_f * (physics.core_mv * 1e-3) ** 2 * physics.freq_mhz * 1e6
    assert float(state.chip_power_w[0]) > float(dynamic[0])
    leak = float(state.chip_power_w[0] - dynamic[0])
    at_die = physics.leak_ref_w * 2 ** ((physics.die_c - profile.t_ref_c) / profile.leakage_doubling_k)
    assert leak == pytest.approx(float(at_die[0]), rel=0.02)
    colder = physics.leak_ref_w * 2 ** ((physics.die_c - 10 - profile.t_ref_c) / profile.leakage_doubling_k)
    assert leak > float(colder[0])


def _accepted_rate(freq_mhz: float, difficulty: float, seconds: float, seed: int) -> tuple[int, float]:
    dev = EmulatedDevice("lv06", seed=seed, difficulty=difficulty, warm_up_s=300)
    applied = dev.set_knob("frequency", freq_mhz, "MHz").value
    events = _run(dev, seconds)
    n = sum(1 for e in events if isinstance(e, ShareEvent) and e.outcome is ShareOutcome.ACCEPTED)
    return n, applied


@pytest.mark.parametrize(("freq", "difficulty"), [(400, 50.0), (575, 50.0), (485, 200.0)])
def test_share_rate_is_clock_over_difficulty(freq: float, difficulty: float) -> None:
    seconds = 2000.0
    n, applied = _accepted_rate(freq, difficulty, seconds, seed=11)
    expected = applied * 1e6 * 894 / (difficulty * 2**32) * seconds
    # exact Poisson 99.9 % interval around the expectation (errors are ~0 in the envelope)
    low, high = stats.poisson.interval(0.999, expected)
    assert low <= n <= high, (n, expected)


def test_errors_rise_steeply_near_the_timing_limit() -> None:
    f = np.array([450.0, 550.0, 600.0, 650.0])
    fmax = fmax_mhz(np.full(4, 600.0), np.full(4, 1200.0), 1200.0, 450.0, 1.4,
                    np.full(4, 60.0), 60.0, 0.001)
    p = error_probability(f, fmax, 0.01)
    assert p[0] < 1e-8 and p[1] < 1e-3 and p[2] == pytest.approx(0.5) and p[3] > 0.99
    hot = fmax_mhz(np.array([600.0]), np.array([1200.0]), 1200.0, 450.0, 1.4,
                   np.array([90.0]), 60.0, 0.001)
    high_v = fmax_mhz(np.array([600.0]), np.array([1300.0]), 1200.0, 450.0, 1.4,
                      np.array([60.0]), 60.0, 0.001)
    assert hot[0] < 600.0 < high_v[0]  # limit falls with temperature, rises with voltage


def _hw_errors(dev: EmulatedDevice) -> int:
    return int(dev.telemetry_sampler.hw_errors_total.sum())


def test_hardware_errors_appear_when_overclocked() -> None:
    # wrong results are counted by the firmware (at its ticket difficulty), never shared
    dev = EmulatedDevice("lv06", seed=2, difficulty=20.0, warm_up_s=300)
    dev.set_knob("frequency", 640, "MHz", override=True)
    events = _run(dev, 300)
    assert not any(isinstance(e, ShareEvent) and e.outcome is ShareOutcome.HARDWARE_ERROR
                   for e in events)
    # 640 MHz x 894 cores at ticket 256: ~0.52 results/s, most of them wrong this far out
    assert _hw_errors(dev) > 0.2 * 300 * 640e6 * 894 / (256 * 2**32)
    stock = EmulatedDevice("lv06", seed=2, difficulty=20.0, warm_up_s=300)
    _run(stock, 300)
    assert _hw_errors(stock) <= 1


def test_clock_lands_on_the_pll_grid_after_settling() -> None:
    dev = EmulatedDevice("lv06", seed=0, warm_up_s=0)
    event = dev.set_knob("frequency", 489.9, "MHz")
    assert event.value != 489.9 and abs(event.value - 489.9) < 3
    assert dev.physics.freq_mhz[0] == 485.0  # not yet: the PLL settles first
    dev.clock.sleep(0.01)
    assert dev.physics.freq_mhz[0] == event.value


def test_telemetry_period_noise_and_quantisation() -> None:
    dev = EmulatedDevice("lv06", seed=4, warm_up_s=600)
    temps = [e for e in _run(dev, 60) if isinstance(e, TelemetryEvent) and e.quantity == "chip_temp"]
    times = np.array([e.t_ns for e in temps]) / 1e9
    assert len(temps) in (29, 30)  # ESP-Miner's 2 s period; the last may be in flight
    assert np.allclose(np.diff(times), 2.0, atol=0.2)
    values = np.array([e.value for e in temps])
    assert np.allclose(values / 0.125, np.round(values / 0.125))  # EMC2101 resolution
    assert values.std() > 0  # sensor noise


def test_host_timestamps_are_ordered_and_after_the_chip() -> None:
    dev = EmulatedDevice("lv06", seed=5, difficulty=10.0, warm_up_s=0)
    shares = [e for e in _run(dev, 200) if isinstance(e, ShareEvent)]
    host = np.array([s.t_ns for s in shares])
    found = np.array([s.t_found_ns for s in shares])
    assert np.all(np.diff(host) >= 0)
    delay_s = (host - found) / 1e9
    assert delay_s.min() > 0.001  # WiFi: never instantaneous
    assert np.median(delay_s) < 0.05 and delay_s.max() < 0.5


def test_nonce_fields_carry_chip_and_core_as_the_chip_sets_them() -> None:
    dev = EmulatedDevice("s9", seed=1, difficulty=2000.0, warm_up_s=0)
    shares = [e for e in _run(dev, 20) if isinstance(e, ShareEvent)]
    assert len({s.chip for s in shares}) > 20
    for s in shares:
        assert (s.nonce >> 25) & 0x7F == s.core
        assert ((s.nonce >> 17) & 0xFF) // 4 == s.chip % 63  # 256 // 63 = 4 between addresses


def test_process_variation_follows_the_serial() -> None:
    a1 = draw_variation(LV06_PHYSICS, "LV06-A")
    a2 = draw_variation(LV06_PHYSICS, "LV06-A")
    b = draw_variation(LV06_PHYSICS, "LV06-B")
    assert np.array_equal(a1.leakage, a2.leakage) and np.array_equal(a1.fmax, a2.fmax)
    assert not np.array_equal(a1.leakage, b.leakage)
    temp_a = _device_temp("LV06-A")
    temp_b = _device_temp("LV06-B")
    assert temp_a != temp_b


def _device_temp(serial: str) -> float:
    dev = EmulatedDevice("lv06", serial=serial, seed=0, warm_up_s=900)
    return float(dev.physics.die_c[0])


def test_same_seed_same_events_different_seed_different_events() -> None:
    def trace(seed: int) -> list:
        dev = EmulatedDevice("lv06", seed=seed, difficulty=30.0, warm_up_s=60)
        for f in (450, 520, 480):
            dev.set_knob("frequency", f, "MHz")
            dev.clock.sleep(20)
        return list(dev.events())

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)
