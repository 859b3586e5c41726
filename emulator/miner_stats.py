"""Counters of the emulated Stratum miners (:mod:`emulator.stratum_miner`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(slots=True)
class MinerStats:
    """Counters of one emulated miner. ``model_shares``: valid shares the model reported;
    each became ``submitted``, ``starved`` (no mined nonce ready), ``lost_at_switch`` (none
    ready yet within ``switch_grace_s`` of a clean job, new extranonce or mask, when all
    buffered work is void) or ``idle`` (no job or difficulty, not authorized, not
    connected). ``rejected`` counts pool rejects by outcome."""

    serial: str
    user: str
    model_shares: int = 0
    hardware_errors: int = 0
    submitted: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    starved: int = 0
    lost_at_switch: int = 0
    idle: int = 0
    connects: int = 0
    connected: bool = False
    difficulty: float | None = None
    model_difficulty: float | None = None
    version_mask: int = 0
    solutions_found: int = 0
    messages: list[str] = field(default_factory=list)

    def copy(self) -> MinerStats:
        return replace(self, rejected=dict(self.rejected), messages=list(self.messages))


@dataclass(frozen=True, slots=True)
class FarmStats:
    """A snapshot of a farm: each miner's counters and the hashing pool's measurements
    (rates in H/s)."""

    miners: list[MinerStats]
    workers: int
    host_hashrate_hs: float
    recent_hashrate_hs: float
    hashrate_scale: float
    warnings: list[str]

    def total(self, name: str) -> int:
        """Sum of an integer counter over the miners, e.g. ``total("accepted")``."""
        return sum(getattr(m, name) for m in self.miners)
