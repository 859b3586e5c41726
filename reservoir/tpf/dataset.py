"""The early-abort dataset: headers from real job structure, their round-k states and
the label "the final SHA-256d meets the target".

Jobs come from :class:`asic_bridge.stratum.jobs.SyntheticJobSource` (real coinbase and
header layout, random prevhash/branch) or a template file; each job gets its own
extranonce2 and a run of consecutive nonces from a random start, as a miner sweeps them.

The target is chosen for a measurable positive class: ``target = t64 * 2**192 - 1`` with
``t64 = round(positive_rate * 2**64)``, so a hash (as the little-endian integer the pool
compares) meets it exactly when its top 64 bits are below ``t64``; the realised positive
rate is reported, never assumed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from reservoir.tpf import sha256
from reservoir.tpf.guard import FeatureBlock, Label, Provenance


@dataclass(frozen=True)
class TpfDataset:
    """Headers as (job index, nonce), feature blocks, the label and the target."""

    job: np.ndarray  # (n,) int: which job (the unit of the train/test split)
    nonce: np.ndarray  # (n,) uint32
    headers76: tuple[bytes, ...]  # per job: header bytes before the nonce
    blocks: tuple[FeatureBlock, ...]
    label: Label
    target: int
    k: int

    @property
    def n(self) -> int:
        return len(self.nonce)

    @property
    def positive_rate(self) -> float:
        return float(np.mean(self.label.values))

    def block(self, name: str) -> FeatureBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)


def target_for_rate(positive_rate: float) -> int:
    """The target whose hashes have exactly top-64-bit value below ``round(rate * 2**64)``."""
    if not 0 < positive_rate < 1:
        raise ValueError(f"positive rate must be in (0, 1), got {positive_rate}")
    return max(1, round(positive_rate * 2**64)) * 2**192 - 1


def meets_target(digests: np.ndarray, target: int) -> np.ndarray:
    """Vectorised ``int.from_bytes(digest, 'little') <= target`` for targets of the form
    ``t64 * 2**192 - 1`` (top 64 bits of the little-endian hash below ``t64``)."""
    t64, rest = divmod(target + 1, 2**192)
    if rest:
        raise ValueError("target must have the form t64 * 2**192 - 1")
    top = np.ascontiguousarray(digests[:, 24:32]).view("<u8")[:, 0]
    return top < np.uint64(t64)


def state_bits(state: np.ndarray) -> np.ndarray:
    """(8, n) uint32 state -> (n, 256) uint8 bits, word a first, most significant bit first."""
    as_bytes = np.ascontiguousarray(state.T).astype(">u4").view(np.uint8)
    return np.unpackbits(as_bytes, axis=1)


def _bit_names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{w}{31 - b}" for w in "abcdefgh" for b in range(32))


def job_headers(n_jobs: int, seed: int, template: str | None = None) -> list[bytes]:
    """The 76 header bytes before the nonce for ``n_jobs`` jobs (distinct extranonce2)."""
    from asic_bridge.stratum.jobs import SyntheticJobSource, TemplateJobSource

    source = TemplateJobSource.from_file(template) if template else SyntheticJobSource(seed=seed)
    rng = np.random.default_rng(seed)
    extranonce1 = rng.bytes(4)
    heads = []
    for i in range(n_jobs):
        job = source.make_job(f"{i:x}")
        en2 = struct.pack("<Q", i + 1)[: getattr(source, "extranonce_size", 8)]
        header = job.header(extranonce1, en2, ntime=job.ntime, nonce=0, version=job.version)
        if len(header) != 80:
            raise ValueError("the early-abort analysis needs 80-byte SHA-256d headers (not LBRY)")
        heads.append(header[:76])
    return heads


def build_dataset(
    *,
    n_jobs: int = 32,
    nonces_per_job: int = 4096,
    k: int = 5,
    positive_rate: float = 1 / 16,
    seed: int = 0,
    template: str | None = None,
) -> TpfDataset:
    """Headers, states after round ``k`` of both hashes, and the label.

    States come from the numpy round-state SHA-256 (:mod:`reservoir.tpf.sha256`); the
    digests behind the label and the second hash's input from hashlib.
    """
    if not 1 <= k <= 64:
        raise ValueError(f"round k must be in 1..64, got {k}")
    if n_jobs < 4 or nonces_per_job < 16:
        raise ValueError("need at least 4 jobs of 16 nonces")
    target = target_for_rate(positive_rate)
    rng = np.random.default_rng(seed)
    heads = job_headers(n_jobs, seed, template)
    s1, s2, labels, nonces, jobs = [], [], [], [], []
    for j, head in enumerate(heads):
        start = int(rng.integers(0, 2**32 - nonces_per_job))
        nonce = (start + np.arange(nonces_per_job, dtype=np.uint64)).astype(np.uint32)
        first = sha256.hashlib_first_digests(head, nonce)
        final = _second_sha256(first)
        s1.append(state_bits(sha256.first_hash_round_state(head, nonce, k)))
        s2.append(state_bits(sha256.second_hash_round_state(first, k)))
        labels.append(meets_target(final, target))
        nonces.append(nonce)
        jobs.append(np.full(nonces_per_job, j))
    label = Label("meets_target", np.concatenate(labels), source="final_hash")
    blocks = (
        FeatureBlock(f"h1_r{k}", np.concatenate(s1), _bit_names(f"h1_r{k}"),
                     Provenance("sha256_state", hash_index=1, round=k)),
        FeatureBlock(f"h2_r{k}", np.concatenate(s2), _bit_names(f"h2_r{k}"),
                     Provenance("sha256_state", hash_index=2, round=k)),
    )  # fmt: skip
    return TpfDataset(
        job=np.concatenate(jobs), nonce=np.concatenate(nonces), headers76=tuple(heads),
        blocks=blocks, label=label, target=target, k=k,
    )  # fmt: skip


def _second_sha256(first: np.ndarray) -> np.ndarray:
    import hashlib

    sha = hashlib.sha256
    data = first.tobytes()
    out = b"".join(sha(data[i : i + 32]).digest() for i in range(0, len(data), 32))
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, 32)
