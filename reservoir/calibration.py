"""Share-rate calibration and the difficulty encoding defined by shares per step.

The published difficulty encoding D = 25 / (u + 0.05) fixes constants, so what it means
depends on the device: a stock S9 returns dozens of shares per step at those constants,
an LV06 about one, the live (hash-rate-scaled) emulator almost none. The ``difficulty``
encoding here is instead defined by the mean number of accepted shares per step it aims
at, N: D(u) = c / (u + eps) with eps = 0.05 as published and

    c = hold_s x r1 x (E[u] + eps) / N,

where r1 is the device's accepted-share rate at difficulty 1 (shares/s), measured in a
short calibration phase before the washout: the device is held at a trial difficulty
(first guess from the model's nominal hashrate) and its accepted shares counted. The
trial is repeated (at most :data:`MAX_ROUNDS` windows) with a difficulty scaled from what
came back (100x easier while nothing comes back: a device with a pool returns only once
its miner is connected) until the trailing windows at one difficulty hold at least
:data:`MIN_SHARES` shares. They give r1 = n x D / T (the Poisson maximum-likelihood
estimate, about +-18 % at 30 shares; a window aims at 60, and stopping on the count it is
estimated from biases it upward only when a window's mean is near 30); earlier windows
only steer. No such windows within the limit, or a target that would need difficulties
below the model's floor (the encoding would be clipped), is an error with the figures.
The same procedure runs on hardware and the emulator; its figures go into the capture's
metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from asic_bridge.device import Device
from asic_bridge.events import Event, ShareEvent, ShareOutcome
from asic_bridge.models import DIFFICULTY, DeviceSpec
from reservoir.tasks.narma import U_HIGH, U_LOW

EPS = 0.05  # the published encoding's offset
MIN_SHARES = 30  # accepted shares a calibration needs before it stops
MAX_ROUNDS = 8
DEFAULT_SHARES_PER_STEP = 10.0
TWO_32 = 2.0**32


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the calibration phase measured (stored in the capture metadata)."""

    shares_per_step: float  # the target N
    hold_s: float
    rate_at_d1: float  # accepted shares per second at difficulty 1 (r1)
    shares: int  # accepted shares counted over all rounds
    seconds: float  # calibration time on the device's clock
    difficulties: tuple[float, ...]  # trial difficulty of each round

    def mean_difficulty(self) -> float:
        """The fixed difficulty that gives N shares per step on average."""
        return self.hold_s * self.rate_at_d1 / self.shares_per_step

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "difficulties": list(self.difficulties),
                "mean_difficulty": self.mean_difficulty()}


def calibrate(
    device: Device,
    *,
    hold_s: float,
    shares_per_step: float,
    window_steps: int = 10,
    sink: Callable[[list[Event]], None],
    encoded: bool = True,
) -> Calibration:
    """Measure r1 on ``device`` (see the module text). Every event seen goes to ``sink``
    (the capture); the difficulty commands are ordinary control events. ``encoded``: the
    difficulty will carry the input (D(u) spans the range), else it is held at its mean."""
    if not shares_per_step > 0:
        raise ValueError(f"shares per step must be positive, got {shares_per_step}")
    spec = device.spec
    # first guess from the model's nominal hashrate
    r1_guess = spec.nominal_hashrate_ghs * 1e9 / TWO_32
    difficulty = spec.clamp(DIFFICULTY.name, hold_s * r1_guess / shares_per_step)
    window_s = window_steps * hold_s
    clock = device.clock
    rounds: list[tuple[int, float, float, float]] = []  # (shares, exposure T / D, seconds, D)
    tried: list[float] = []
    n_run = 0  # accepted shares of the trailing windows at the current difficulty
    exposure_run = 0.0
    for _ in range(MAX_ROUNDS):
        applied = device.set_knob(DIFFICULTY.name, difficulty, DIFFICULTY.unit).value
        tried.append(applied)
        t0 = clock.now_ns()
        clock.sleep(window_s)
        t1 = clock.now_ns()
        events = list(device.events())
        sink(events)
        n = sum(1 for e in events if isinstance(e, ShareEvent) and e.outcome == ShareOutcome.ACCEPTED
                and t0 <= e.t_ns < t1 and abs(e.difficulty - applied) <= 1e-9 * applied)
        exposure = (t1 - t0) / 1e9 / applied
        rounds.append((n, exposure, (t1 - t0) / 1e9, applied))
        same = len(rounds) > 1 and rounds[-2][3] == applied
        n_run, exposure_run = (n_run + n, exposure_run + exposure) if same else (n, exposure)
        if n_run >= MIN_SHARES:
            break
        # aim the next window at twice the shares needed (100x easier while none come back:
        # the device's miner is connected, so none means far too hard, e.g. a scaled-down
        # miner); at the difficulty floor, windows add up
        difficulty = spec.clamp(DIFFICULTY.name, n / exposure / (2.0 * MIN_SHARES / window_s)
                                if n else applied / 100.0)
    seconds = sum(r[2] for r in rounds)
    if n_run < MIN_SHARES:
        total = sum(r[0] for r in rounds)
        raise ValueError(
            f"calibration: {device.info.device_id} returned {total} accepted shares in {seconds:.1f} s "
            f"(difficulty {tried[0]:g} down to {tried[-1]:g}); {MIN_SHARES} at one difficulty are "
            "needed: is the miner connected to the pool?")
    # the trailing windows at the last difficulty: set from what came back, the miner mining
    calibration = Calibration(shares_per_step, hold_s, n_run / exposure_run, n_run, seconds, tuple(tried))
    floor = spec.difficulty_range[0]
    lowest = calibration.mean_difficulty()
    if encoded:  # D(u) is lowest at the largest u
        lowest *= ((U_LOW + U_HIGH) / 2 + EPS) / (U_HIGH + EPS)
    if lowest < floor:
        reachable = shares_per_step * lowest / floor
        raise ValueError(
            f"calibration: {device.info.device_id} returns {calibration.rate_at_d1 * hold_s:.3g} shares "
            f"per {hold_s:g} s step at difficulty 1, so {shares_per_step:g} shares per step would need "
            f"difficulties below the floor {floor:g}; ask for --shares-per-step {reachable:.2g} or less, "
            "or hold longer")
    return calibration


@dataclass(frozen=True, slots=True)
class CalibratedDifficultyEncoder:
    """u -> D(u) = c / (u + eps), c set by a :class:`Calibration` so that a step holds
    ``shares_per_step`` accepted shares on average over u ~ U[0, 0.5]."""

    spec: DeviceSpec
    calibration: Calibration
    eps: float = EPS
    knob: str = DIFFICULTY.name
    unit: str = DIFFICULTY.unit
    name: str = "difficulty"

    @property
    def d0(self) -> float:
        """The constant c (the published encoding has 25)."""
        return self.calibration.mean_difficulty() * ((U_LOW + U_HIGH) / 2 + self.eps)

    def encode(self, u: np.ndarray) -> np.ndarray:
        low, high = self.spec.difficulty_range
        return np.clip(self.d0 / (np.asarray(u, dtype=float) + self.eps), low, high)


def expected_shares_per_step(difficulty: np.ndarray | float, hold_s: float, rate_at_d1: float) -> Any:
    """Mean accepted shares in one hold at ``difficulty`` (r1 x hold / D)."""
    return rate_at_d1 * hold_s / np.asarray(difficulty, dtype=float)
