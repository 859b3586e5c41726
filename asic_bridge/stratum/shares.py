"""Share checking: rebuild the header of a submit, hash it, judge it. No I/O.

The order of the checks: extranonce2 length (malformed), ntime within
[job ntime, job ntime + :data:`NTIME_WINDOW_S`], version bits inside the negotiated mask,
then the hash (computed for every share whose header can be rebuilt, so a rejected
share still carries what difficulty it reached), stale job, duplicate, difficulty, and
last the bound on accepted shares kept per job for the duplicate check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from asic_bridge.events import ShareOutcome
from asic_bridge.hashing import DIFF1_TARGET, lbry_pow_hash, sha256d
from asic_bridge.stratum.jobs import Job
from asic_bridge.stratum.methods import Submit

NTIME_WINDOW_S = 7000
"""How far past the job's ntime a share's ntime may be, in seconds (ckpool's rule)."""

DuplicateKey = bytes
"""What makes two submits of one job and session the same share: extranonce2, ntime,
nonce and the rolled version bits (a version-rolled share with the same nonce is a
different header, not a duplicate). Packed into one bytes object (about 60 bytes)."""

_KEY_TAIL = struct.Struct("<III")


def duplicate_key(submit: Submit) -> DuplicateKey:
    """The duplicate key of a submit (see :data:`DuplicateKey`)."""
    return submit.extranonce2 + _KEY_TAIL.pack(submit.ntime, submit.nonce, submit.version_bits or 0)


@dataclass(frozen=True, slots=True)
class ShareCheck:
    """The verdict on one submit. ``share_difficulty`` is 0.0 when no header was hashed;
    ``version`` is the header version used (after rolling); ``message`` is for humans."""

    outcome: ShareOutcome
    share_difficulty: float
    version: int
    message: str
    header: bytes | None = None
    hash_int: int | None = None


def _hash_int(job: Job, header: bytes) -> int:
    digest = lbry_pow_hash(header) if job.claim_trie is not None else sha256d(header)
    return int.from_bytes(digest, "little")


def check_share(
    job: Job,
    submit: Submit,
    *,
    extranonce1: bytes,
    extranonce2_size: int,
    version_mask: int,
    target: int,
    stale: bool,
    seen: set[DuplicateKey],
    seen_limit: int | None = None,
) -> ShareCheck:
    """Judge ``submit`` against ``job``. ``target`` is the largest acceptable hash integer
    (see :func:`asic_bridge.hashing.target_of_difficulty`); ``seen`` holds the keys of
    the shares accepted for this job and session, and gains the key of a share accepted
    now (rejected shares never enter it). Once it holds ``seen_limit`` keys, further
    valid shares of the job are answered STALE (the set stays bounded; the pool sends a
    new job). Never raises for a bad share: a reject is a value."""
    bits = submit.version_bits or 0
    if len(submit.extranonce2) != extranonce2_size:
        return ShareCheck(
            ShareOutcome.MALFORMED,
            0.0,
            job.version,
            f"extranonce2 is {len(submit.extranonce2)} bytes, expected {extranonce2_size}",
        )
    if not job.ntime <= submit.ntime <= job.ntime + NTIME_WINDOW_S:
        return ShareCheck(
            ShareOutcome.NTIME_OUT_OF_RANGE,
            0.0,
            job.version,
            f"ntime {submit.ntime} outside [{job.ntime}, {job.ntime + NTIME_WINDOW_S}]",
        )
    if bits & ~version_mask & 0xFFFFFFFF:
        return ShareCheck(
            ShareOutcome.BAD_VERSION_BITS,
            0.0,
            job.version,
            f"version bits {bits:08x} outside mask {version_mask:08x}",
        )
    # merkle root once; the version candidates differ only in the first 4 bytes
    base = job.header(
        extranonce1, submit.extranonce2, ntime=submit.ntime, nonce=submit.nonce, version=0
    )
    version = job.version ^ bits
    header = version.to_bytes(4, "little") + base[4:]
    value = _hash_int(job, header)
    if bits and job.version & bits:  # XOR (public-pool) and OR (ckpool) differ: accept both
        alt_version = job.version | bits
        alt_header = alt_version.to_bytes(4, "little") + base[4:]
        alt_value = _hash_int(job, alt_header)
        if alt_value < value:
            version, header, value = alt_version, alt_header, alt_value
    share_difficulty = float("inf") if value == 0 else DIFF1_TARGET / value
    if stale:
        return ShareCheck(ShareOutcome.STALE, share_difficulty, version, "stale job", header, value)
    key = duplicate_key(submit)
    if key in seen:
        return ShareCheck(
            ShareOutcome.DUPLICATE, share_difficulty, version, "duplicate share", header, value
        )
    if value > target:
        return ShareCheck(
            ShareOutcome.LOW_DIFFICULTY,
            share_difficulty,
            version,
            f"share difficulty {share_difficulty:.6g} below target",
            header,
            value,
        )
    if seen_limit is not None and len(seen) >= seen_limit:
        return ShareCheck(
            ShareOutcome.STALE,
            share_difficulty,
            version,
            f"this job already has {seen_limit} accepted shares (the limit); mine the newer job",
            header,
            value,
        )
    seen.add(key)
    return ShareCheck(ShareOutcome.ACCEPTED, share_difficulty, version, "accepted", header, value)
