"""ckpool-style variable difficulty (off by default: difficulty is an experimental input).

After ``check_shares`` shares or ``check_interval_s`` seconds since the last change, the
rate of difficulty-weighted shares per second (dsps) is compared with the current
difficulty: the difficulty is kept while dsps / difficulty lies in [0.15, 0.4] per
second, and otherwise set to dsps * 3.33 (about 0.3 shares per second), clamped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VarDiffConfig:
    """Vardiff bounds and cadence (``check_interval_s`` in seconds)."""

    min_difficulty: float = 1e-6
    max_difficulty: float = 1e12
    check_shares: int = 72
    check_interval_s: float = 240.0
    low_rate: float = 0.15
    high_rate: float = 0.4
    target_factor: float = 3.33


class VarDiff:
    """Per-session vardiff state; feed accepted shares, get a new difficulty or None."""

    def __init__(self, config: VarDiffConfig, *, now_s: float) -> None:
        self.config = config
        self._since_s = now_s
        self._shares = 0
        self._diff_sum = 0.0

    def reset(self, now_s: float) -> None:
        """Start a new measurement window (call after any difficulty change), ``now_s`` s."""
        self._since_s = now_s
        self._shares = 0
        self._diff_sum = 0.0

    def on_share(self, difficulty: float, now_s: float) -> float | None:
        """Count one accepted share judged at ``difficulty``; return a new difficulty when
        the window is complete and the rate is out of band, else None."""
        cfg = self.config
        self._shares += 1
        self._diff_sum += difficulty
        elapsed = now_s - self._since_s
        if self._shares < cfg.check_shares and elapsed < cfg.check_interval_s:
            return None
        if elapsed <= 0:
            return None
        dsps = self._diff_sum / elapsed
        self.reset(now_s)
        ratio = dsps / difficulty
        if cfg.low_rate <= ratio <= cfg.high_rate:
            return None
        new = min(max(dsps * cfg.target_factor, cfg.min_difficulty), cfg.max_difficulty)
        return None if new == difficulty else new
