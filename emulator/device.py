"""The emulator behind the Device interface, on a simulated clock.

``EmulatedDevice.clock.sleep(s)`` runs the physics for ``s`` simulated seconds and queues
what a host would see: shares (a Poisson process per chip at valid hashrate /
(difficulty x 2^32), the valid hashrate being the raw one times one minus the chip's error
probability) and telemetry at the firmware's period, all stamped with host receive times
after firmware batching and network latency. Wrong results are not shares: like
ESP-Miner and bmminer, the firmware counts them (at the chip's ticket difficulty, in the
hardware-error counter of its telemetry) and never submits them. The silicon comes from
``serial``; everything random (share luck, latencies, sensor noise) from generators
seeded by ``seed`` *and* ``serial``: one device replays the same run for the same seed,
and two devices never share their luck, as two miners working on different extranonces
never find the same shares at the same moments.

In simulated time nonces are drawn, not mined (the modelled rates are hundreds of GH/s):
their chip and core fields are set as the real chip sets them, and their hashes are not
meant to verify. The live faces (Stratum, UART) mine real nonces.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Iterator

import numpy as np

from asic_bridge.device import Clock, Device, DeviceInfo
from asic_bridge.events import (
    ControlEvent,
    Event,
    ShareEvent,
    ShareOutcome,
    TelemetryEvent,
    TimestampSource,
)
from asic_bridge.models import CORE_VOLTAGE, DIFFICULTY, FAN, FREQUENCY, KNOBS
from emulator import EMULATOR_VERSION
from emulator.host_view import HostLatency
from emulator.physics.model import DevicePhysics, PhysicsState
from emulator.physics.variation import draw_variation
from emulator.profiles import PhysicsProfile, profile_for
from emulator.telemetry import TelemetrySampler

NS = 1_000_000_000
VERSION_ROLLING_MASK = 0x1FFFE000  # BIP310 mask ESP-Miner asks for and pools grant


class SimClock(Clock):
    """Simulated time: ``sleep`` runs the device model forward."""

    simulated = True

    def __init__(self, device: EmulatedDevice) -> None:
        self._device = device

    def now_ns(self) -> int:
        return self._device.now_ns

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds} s")
        self._device.advance_to(self._device.now_ns + round(seconds * NS))


def pll_grid_mhz(chip: str, low_mhz: float, high_mhz: float) -> np.ndarray:
    """Reachable clocks (MHz) of a chip's PLL in a range; 1 MHz steps for an undisclosed
    chip (an assumption)."""
    if chip == "generic":
        return np.arange(np.ceil(low_mhz), np.floor(high_mhz) + 1.0)
    from asic_bridge.serial.pll import grid_mhz

    return np.asarray(grid_mhz(chip, low_mhz, high_mhz))


def big_cores_per_chip(chip: str) -> int:
    """Cores per chip as the nonce's 7-bit core field counts them (BM1366: 112, BM1387:
    114); for an undisclosed chip, 128 (the field's range; an assumption)."""
    from asic_bridge.serial.chips import FAMILIES

    family = FAMILIES.get(chip)
    return family.cores if family is not None else 128


def valid_share_rate_hz(hashrate_hs: np.ndarray, error_probability: np.ndarray,
                        difficulty: float) -> np.ndarray:
    """Shares per second per chip at pool ``difficulty``: only correct results count, so
    the raw hashrate (H/s) is scaled by one minus each chip's error probability."""
    return hashrate_hs * (1.0 - error_probability) / (difficulty * 2.0**32)


class EmulatedDevice(Device):
    """A simulated miner of model ``lv06``, ``s9`` or ``lbbox``.

    ``difficulty`` is the pool's share difficulty at the start; by default the one that
    gives one share per second at the nominal hashrate. ``dt_s`` is the physics step
    (seconds); share times are drawn continuously inside each step.
    """

    def __init__(
        self,
        model: str,
        *,
        serial: str | None = None,
        seed: int = 0,
        difficulty: float | None = None,
        dt_s: float = 0.1,
        warm_up_s: float = 900.0,
        device_id: str | None = None,
    ) -> None:
        profile: PhysicsProfile = profile_for(model)
        self.profile = profile
        self.spec = profile.spec
        serial = serial or f"{self.spec.model.upper()}-EMU-0001"
        self._info = DeviceInfo(
            device_id=device_id or serial,
            model=self.spec.model,
            serial=serial,
            firmware=EMULATOR_VERSION,
            extra={"clock": "simulated"},
        )
        if not dt_s > 0:
            raise ValueError(f"dt_s must be positive, got {dt_s}")
        self.dt_ns = round(dt_s * NS)
        serial_key = int.from_bytes(hashlib.blake2b(serial.encode(), digest_size=8).digest(), "big")
        seeds = np.random.SeedSequence([int(seed), serial_key]).spawn(3)
        self._share_rng = np.random.default_rng(seeds[0])
        self._latency = HostLatency(profile, np.random.default_rng(seeds[1]))
        self.physics = DevicePhysics(profile, draw_variation(profile, serial))
        self.physics.warm_up(warm_up_s)
        self.telemetry_sampler = TelemetrySampler(
            profile, self.physics, self._info.device_id, np.random.default_rng(seeds[2])
        )
        nominal_hs = self.spec.nominal_hashrate_ghs * 1e9
        self.difficulty = float(difficulty) if difficulty is not None else nominal_hs / 2.0**32
        self.spec.check(DIFFICULTY.name, self.difficulty, DIFFICULTY.unit)
        self.knob_core_mv = self.spec.default_core_mv
        low, high = self.spec.frequency_range_mhz
        self._grid = pll_grid_mhz(profile.pll_chip, 0.5 * low, 1.5 * high)  # room for overrides
        self.now_ns = 0
        self._clock = SimClock(self)
        self._seq = itertools.count()
        self._outbox: list[tuple[int, int, Event]] = []
        self._pending: list[tuple[int, int, str, float]] = []  # (t_ns, seq, knob, value)
        self._latest: dict[tuple[str, int | None], TelemetryEvent] = {}
        self._next_sample_ns = int(profile.telemetry_period_s * NS)
        self.last_state: PhysicsState = self.physics.step(1e-6)
        self._chip_index = np.arange(self.spec.chip_count)
        self._big_cores = big_cores_per_chip(self.spec.chip)

    # --- Device interface --------------------------------------------------------------
    @property
    def info(self) -> DeviceInfo:
        return self._info

    @property
    def clock(self) -> Clock:
        return self._clock

    def events(self) -> Iterator[Event]:
        while self._outbox and self._outbox[0][0] <= self.now_ns:
            yield heapq.heappop(self._outbox)[2]

    def read_telemetry(self) -> list[TelemetryEvent]:
        return list(self._latest.values())

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        t = self.now_ns
        applied = value
        if knob == FREQUENCY.name:
            applied = self.nearest_pll_mhz(value)
            effective = t + int(self.profile.pll_settle_s * NS)
        elif knob == DIFFICULTY.name:
            # reaches the miner with the next set_difficulty/notify: one network trip
            effective = t + int(self._latency.one_way_s(1)[0] * NS)
        else:
            effective = t
        heapq.heappush(self._pending, (effective, next(self._seq), knob, applied))
        event = ControlEvent(t, self._info.device_id, knob, applied, KNOBS[knob].unit,
                             requested=value)
        heapq.heappush(self._outbox, (t, next(self._seq), event))
        return event

    def nearest_pll_mhz(self, mhz: float) -> float:
        """The PLL grid point closest to ``mhz`` (MHz)."""
        i = int(np.argmin(np.abs(self._grid - mhz)))
        return float(self._grid[i])

    # --- simulation --------------------------------------------------------------------
    def advance_to(self, target_ns: int) -> None:
        """Run the model until simulated time ``target_ns``."""
        while self.now_ns < target_ns:
            step_end = min(self.now_ns + self.dt_ns, target_ns)
            if self._pending and self._pending[0][0] < step_end:
                step_end = max(self._pending[0][0], self.now_ns)
            while self._pending and self._pending[0][0] <= self.now_ns:
                _, _, knob, value = heapq.heappop(self._pending)
                self._set_physics_knob(knob, value)
            if step_end > self.now_ns:
                self._run_step(self.now_ns, step_end)
                self.now_ns = step_end

    def _set_physics_knob(self, knob: str, value: float) -> None:
        if knob == FREQUENCY.name:
            self.physics.set_frequency_mhz(value)
        elif knob == CORE_VOLTAGE.name:
            self.knob_core_mv = value
            self.physics.set_core_voltage_mv(value)
        elif knob == FAN.name:
            self.physics.set_fan_pct(value)
        elif knob == DIFFICULTY.name:
            self.difficulty = value

    def _run_step(self, t0_ns: int, t1_ns: int) -> None:
        dt_s = (t1_ns - t0_ns) / NS
        state = self.physics.step(dt_s)
        self.last_state = state
        rate_valid = valid_share_rate_hz(state.hashrate_hs, state.error_probability, self.difficulty)
        n_valid = self._share_rng.poisson(rate_valid * dt_s)
        self.telemetry_sampler.count_results(state, dt_s)
        total = int(n_valid.sum())
        if total:
            self._emit_shares(t0_ns, dt_s, n_valid, total)
        while self._next_sample_ns <= t1_ns:
            self._emit_telemetry(self._next_sample_ns, state)
            self._next_sample_ns += int(self.profile.telemetry_period_s * NS)

    def _emit_shares(self, t0_ns: int, dt_s: float, n_valid: np.ndarray, total: int) -> None:
        rng = self._share_rng
        chips = np.repeat(self._chip_index, n_valid)
        found_s = t0_ns / NS + rng.random(total) * dt_s
        order = np.argsort(found_s, kind="stable")
        chips, found_s = chips[order], found_s[order]
        host_ns = self._latency.host_times_ns(found_s)
        cores = rng.integers(0, self._big_cores, total)
        low_bits = rng.integers(0, 1 << 17, total)
        version_bits = rng.integers(0, 1 << 16, total) << 13
        u = 1.0 - rng.random(total)  # uniform on (0, 1]
        self.telemetry_sampler.count_shares(total, float(self.difficulty / u.min()))
        address_step = max(1, 256 // self.spec.chips_per_chain)
        per_chain = self.spec.chips_per_chain
        job_period_ns = int(self.profile.job_interval_s * NS)
        device_id = self._info.device_id
        for k in range(total):
            chip = int(chips[k])
            big_core = int(cores[k])
            address = (chip % per_chain) * address_step
            nonce = ((big_core & 0x7F) << 25) | ((address & 0xFF) << 17) | int(low_bits[k])
            found_ns = round(found_s[k] * NS)
            event = ShareEvent(
                t_ns=int(host_ns[k]),
                device=device_id,
                job_id=f"{found_ns // job_period_ns:08x}",
                nonce=nonce,
                difficulty=self.difficulty,
                share_difficulty=float(self.difficulty / u[k]),
                outcome=ShareOutcome.ACCEPTED,
                chip=chip,
                core=big_core,
                version_bits=int(version_bits[k]) & VERSION_ROLLING_MASK,
                t_source=TimestampSource.SIMULATED,
                t_found_ns=found_ns,
            )
            heapq.heappush(self._outbox, (event.t_ns, next(self._seq), event))

    def _emit_telemetry(self, t_ns: int, state: PhysicsState) -> None:
        samples = self.telemetry_sampler.sample(t_ns, state, self.knob_core_mv)
        arrive_ns = t_ns + int(self._latency.one_way_s(1)[0] * NS)
        for sample in samples:
            event = TelemetryEvent(arrive_ns, sample.device, sample.quantity, sample.value,
                                   sample.unit, sample.index)
            self._latest[(sample.quantity, sample.index)] = event
            heapq.heappush(self._outbox, (arrive_ns, next(self._seq), event))


def open_url(url: str, **kwargs: object) -> EmulatedDevice:
    """Open ``emu://MODEL?serial=S&seed=N&difficulty=D`` as an :class:`EmulatedDevice`
    (options checked by :func:`asic_bridge.urls.parse_device_url`; unknown ones refused)."""
    from asic_bridge.urls import parse_device_url

    parsed = parse_device_url(url, scheme="emu")
    options: dict[str, object] = {**parsed.options, **kwargs}
    return EmulatedDevice(parsed.target, **options)  # type: ignore[arg-type]
