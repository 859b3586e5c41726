"""The leakage guard: features carry their provenance; the evaluator refuses any feature
computed after the abort point or from the label.

An early-abort filter decides after ``round`` rounds of hash ``hash_index`` of SHA-256d
(hash 1 = block 2 of the first SHA-256, whose first block is the shared midstate; hash 2
= the second SHA-256). A feature is admissible only if it was known at that point and
does not come from the label. The published "100 % accuracy" came from a label computed
from one of its own inputs (``label = window_shares > 0``); :func:`violations` names that
case explicitly (the label's ``derived_from`` lists a feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asic_bridge.errors import LeakageError

SOURCES = {
    "sha256_state": "a SHA-256d working state after some round (hash_index, round set)",
    "capture_telemetry": "a physical reading sampled before the hash started (thermodynamic variant)",
    "capture_shares": "counts or times of shares: outcomes of finished hashes",
    "final_hash": "the finished SHA-256d digest",
    "label": "the label itself, or anything computed from it",
}
"""Known feature sources and what they mean."""

#: Sources that are by construction only known after a hash has finished.
_AFTER_THE_HASH = {"capture_shares", "final_hash"}


@dataclass(frozen=True)
class Provenance:
    """Where a feature came from. ``round`` counts completed rounds (0..64) of hash
    ``hash_index`` (1 or 2); ``derived_from`` names other features or the label it used."""

    source: str
    hash_index: int | None = None
    round: int | None = None
    derived_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown feature source {self.source!r}; known: {sorted(SOURCES)}")
        if self.source == "sha256_state" and (self.hash_index not in (1, 2) or self.round is None):
            raise ValueError("a sha256_state feature needs hash_index 1 or 2 and a round")


@dataclass(frozen=True)
class AbortPoint:
    """Abort after ``round`` rounds of hash ``hash_index``."""

    hash_index: int = 1
    round: int = 5

    def __post_init__(self) -> None:
        if self.hash_index not in (1, 2) or not 0 <= self.round <= 64:
            raise ValueError(f"abort point must be hash 1 or 2, round 0..64; got {self}")

    @property
    def cost_rounds(self) -> int:
        """Nonce-dependent rounds spent on an aborted header (of 128 for a full SHA-256d)."""
        return (self.hash_index - 1) * 64 + self.round

    def admits(self, prov: Provenance) -> bool:
        """True when a state at ``prov`` is known by the abort point."""
        if prov.hash_index is None or prov.round is None:
            return False
        return (prov.hash_index, prov.round) <= (self.hash_index, self.round)

    def describe(self) -> str:
        return f"hash {self.hash_index} round {self.round} ({self.cost_rounds}/128 rounds spent)"


@dataclass(frozen=True)
class FeatureBlock:
    """Columns sharing one provenance, e.g. the 256 state bits after round 5 of hash 1."""

    name: str
    values: np.ndarray  # (n, m)
    columns: tuple[str, ...]
    provenance: Provenance


@dataclass(frozen=True)
class Label:
    """The binary label and what it was computed from (``derived_from`` lists features)."""

    name: str
    values: np.ndarray  # (n,) bool
    source: str = "final_hash"
    derived_from: tuple[str, ...] = field(default_factory=tuple)


def violations(block: FeatureBlock, label: Label, abort: AbortPoint) -> list[str]:
    """Every rule ``block`` breaks for a filter aborting at ``abort``; empty if admissible."""
    prov = block.provenance
    found: list[str] = []
    if block.name in label.derived_from or any(c in label.derived_from for c in block.columns):
        found.append(
            f"circular: the label {label.name!r} is computed from feature {block.name!r}"
        )
    if prov.source == "label" or label.name in prov.derived_from:
        found.append(f"feature {block.name!r} is computed from the label {label.name!r}")
    if prov.source in _AFTER_THE_HASH:
        found.append(
            f"feature {block.name!r} ({prov.source}) is only known after the hash finished, "
            f"past the abort point {abort.describe()}"
        )
    if prov.source == "sha256_state" and not abort.admits(prov):
        found.append(
            f"feature {block.name!r} is the state after hash {prov.hash_index} round {prov.round}, "
            f"past the abort point {abort.describe()}"
        )
    return found


def check(blocks: list[FeatureBlock], label: Label, abort: AbortPoint) -> dict[str, list[str]]:
    """Violations per block name (only blocks with at least one)."""
    return {b.name: v for b in blocks if (v := violations(b, label, abort))}


def guard(blocks: list[FeatureBlock], label: Label, abort: AbortPoint) -> None:
    """Raise :class:`LeakageError` naming every inadmissible block."""
    bad = check(blocks, label, abort)
    if bad:
        reasons = "; ".join(r for rs in bad.values() for r in rs)
        raise LeakageError(f"refused {len(bad)} feature block(s): {reasons}")
