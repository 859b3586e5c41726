"""Stratum jobs: the ``mining.notify`` payload as a value, header rebuilding, job sources.

A :class:`Job` holds its fields in *header* byte order (``prev_hash``, ``claim_trie``) and
converts to and from notify params (where prevhash has the bytes of each 4-byte word
swapped). Both the pool (to check a share) and a client (to mine) build headers with
:meth:`Job.header`.

Job sources make jobs on demand: :class:`SyntheticJobSource` (random, valid structure),
:class:`TemplateJobSource` (replays one job from a JSON template file). In proxy mode the
jobs come from the upstream pool's notifies (:meth:`Job.from_notify`).
"""

from __future__ import annotations

import dataclasses
import json
import random
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from asic_bridge.errors import ProtocolError
from asic_bridge.hashing import build_header, merkle_root, sha256d, swap_words
from asic_bridge.stratum.methods import hex_bytes, hex_u32

NOTIFY = "mining.notify"


@dataclass(frozen=True, slots=True)
class Job:
    """One mining job. ``prev_hash``/``claim_trie`` are 32 bytes in header byte order;
    ``ntime`` is seconds since the Unix epoch; ``claim_trie`` is set for LBRY jobs only."""

    job_id: str
    prev_hash: bytes
    coinb1: bytes
    coinb2: bytes
    merkle_branch: tuple[bytes, ...]
    version: int
    nbits: int
    ntime: int
    clean: bool = True
    claim_trie: bytes | None = None

    @property
    def is_lbry(self) -> bool:
        return self.claim_trie is not None

    def with_id(self, job_id: str, *, clean: bool | None = None) -> Job:
        """The same job under another id (and optionally another clean flag)."""
        return dataclasses.replace(
            self, job_id=job_id, clean=self.clean if clean is None else clean
        )

    def coinbase(self, extranonce1: bytes, extranonce2: bytes) -> bytes:
        """coinb1 || extranonce1 || extranonce2 || coinb2."""
        return self.coinb1 + extranonce1 + extranonce2 + self.coinb2

    def merkle_root(self, extranonce1: bytes, extranonce2: bytes) -> bytes:
        """The merkle root in header byte order."""
        return merkle_root(sha256d(self.coinbase(extranonce1, extranonce2)), self.merkle_branch)

    def header(
        self, extranonce1: bytes, extranonce2: bytes, *, ntime: int, nonce: int, version: int
    ) -> bytes:
        """The 80-byte (or 112-byte LBRY) header for a share; ``version`` already rolled."""
        return build_header(
            version=version,
            prev_hash=self.prev_hash,
            merkle=self.merkle_root(extranonce1, extranonce2),
            ntime=ntime,
            nbits=self.nbits,
            nonce=nonce,
            claim_trie=self.claim_trie,
        )

    def notify_params(self) -> list[Any]:
        """Params of ``mining.notify`` (LBRY's form carries the claim-trie root third)."""
        head: list[Any] = [self.job_id, swap_words(self.prev_hash).hex()]
        if self.claim_trie is not None:
            head.append(swap_words(self.claim_trie).hex())
        return [
            *head,
            self.coinb1.hex(),
            self.coinb2.hex(),
            [b.hex() for b in self.merkle_branch],
            f"{self.version:08x}",
            f"{self.nbits:08x}",
            f"{self.ntime:08x}",
            self.clean,
        ]

    @classmethod
    def from_notify(cls, params: list[Any], *, lbry: bool | None = None) -> Job:
        """Parse notify params; ``lbry=None`` decides by the count (10 params = LBRY)."""
        m = NOTIFY
        if lbry is None:
            lbry = len(params) == 10
        need = 10 if lbry else 9
        if len(params) < need:
            raise ProtocolError(f"{m} needs {need} params, got {len(params)}")
        job_id = params[0]
        if not isinstance(job_id, str | int) or isinstance(job_id, bool):
            raise ProtocolError(f"{m}: job_id must be a string")
        prev = hex_bytes(m, "prevhash", params[1])
        claim = None
        rest = params[2:]
        if lbry:
            claim = hex_bytes(m, "claimtrie", params[2])
            rest = params[3:]
        coinb1 = hex_bytes(m, "coinb1", rest[0])
        coinb2 = hex_bytes(m, "coinb2", rest[1])
        branch = rest[2]
        if not isinstance(branch, list):
            raise ProtocolError(f"{m}: merkle_branch must be an array")
        steps = tuple(hex_bytes(m, "merkle_branch", b) for b in branch)
        if (
            len(prev) != 32
            or any(len(s) != 32 for s in steps)
            or (claim is not None and len(claim) != 32)
        ):
            raise ProtocolError(f"{m}: prevhash, claimtrie and branch entries must be 32 bytes")
        clean = rest[6]
        if not isinstance(clean, bool):
            raise ProtocolError(f"{m}: clean_jobs must be a boolean")
        return cls(
            job_id=str(job_id),
            prev_hash=swap_words(prev),
            coinb1=coinb1,
            coinb2=coinb2,
            merkle_branch=steps,
            version=hex_u32(m, "version", rest[3]),
            nbits=hex_u32(m, "nbits", rest[4]),
            ntime=hex_u32(m, "ntime", rest[5]),
            clean=clean,
            claim_trie=None if claim is None else swap_words(claim),
        )


def roll_version(job_version: int, version_bits: int, *, xor: bool) -> int:
    """The header version for submitted ``version_bits``: public-pool XORs, ckpool ORs
    (identical when the job version has no bit set inside the mask)."""
    return (job_version ^ version_bits) if xor else (job_version | version_bits)


class JobSource(Protocol):
    """Anything that makes a new job on demand."""

    def make_job(self, job_id: str) -> Job: ...


_TAG = b"/hashrc/"


class SyntheticJobSource:
    """Random jobs with a valid structure: a real coinbase layout (height push, extranonce
    space of ``extranonce_size`` bytes, one P2PKH output), random prevhash and branch.

    ``seed`` makes the sequence reproducible (ntime then starts at ``base_ntime``).
    """

    def __init__(
        self,
        *,
        extranonce_size: int = 8,
        branch_length: int = 2,
        version: int = 0x20000000,
        nbits: int = 0x1703A30C,
        seed: int | None = None,
        base_ntime: int | None = None,
        lbry: bool = False,
    ) -> None:
        if not 0 < extranonce_size <= 32:
            raise ValueError(f"extranonce_size must be in 1..32 bytes, got {extranonce_size}")
        self.extranonce_size = extranonce_size
        self.branch_length = branch_length
        self.version = version
        self.nbits = nbits
        self.lbry = lbry
        self._rng = random.Random(seed)
        self._seeded = seed is not None
        self._base_ntime = base_ntime if base_ntime is not None else 1_700_000_000
        self._height = 800_000 + self._rng.randrange(100_000)

    def make_job(self, job_id: str) -> Job:
        rnd = self._rng.randbytes
        self._height += 1
        script_len = 4 + self.extranonce_size + len(_TAG)
        coinb1 = (
            struct.pack("<I", 1)
            + b"\x01"
            + bytes(32)
            + b"\xff\xff\xff\xff"
            + bytes([script_len])
            + b"\x03"
            + self._height.to_bytes(3, "little")
        )
        coinb2 = (
            _TAG
            + b"\xff\xff\xff\xff"
            + b"\x01"
            + struct.pack("<Q", 312_500_000)
            + b"\x19\x76\xa9\x14"
            + rnd(20)
            + b"\x88\xac"
            + bytes(4)
        )
        ntime = self._base_ntime + (self._height % 600) if self._seeded else int(time.time())
        return Job(
            job_id=job_id,
            prev_hash=bytes(4) + rnd(28),
            coinb1=coinb1,
            coinb2=coinb2,
            merkle_branch=tuple(rnd(32) for _ in range(self.branch_length)),
            version=self.version,
            nbits=self.nbits,
            ntime=ntime,
            clean=True,
            claim_trie=rnd(32) if self.lbry else None,
        )


def _int_field(template: dict[str, Any], name: str) -> int:
    value = template[name]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return hex_u32("job template", name, value)


class TemplateJobSource:
    """Replay one job: every ``make_job`` returns the template's fields under a new id.

    Template keys: ``prevhash`` (notify form hex), ``coinb1``, ``coinb2``,
    ``merkle_branch`` (hex list), ``version``, ``nbits``, ``ntime`` (hex strings or
    integers), optional ``claimtrie`` (notify form hex; makes it an LBRY job).
    """

    def __init__(self, template: dict[str, Any]) -> None:
        missing = {
            "prevhash",
            "coinb1",
            "coinb2",
            "merkle_branch",
            "version",
            "nbits",
            "ntime",
        } - set(template)
        if missing:
            raise ValueError(f"job template lacks {sorted(missing)}")
        params: list[Any] = ["template", template["prevhash"]]
        if template.get("claimtrie") is not None:
            params.append(template["claimtrie"])
        params += [
            template["coinb1"],
            template["coinb2"],
            template["merkle_branch"],
            f"{_int_field(template, 'version'):08x}",
            f"{_int_field(template, 'nbits'):08x}",
            f"{_int_field(template, 'ntime'):08x}",
            True,
        ]
        try:
            self._job = Job.from_notify(params, lbry=template.get("claimtrie") is not None)
        except ProtocolError as exc:
            raise ValueError(f"bad job template: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> TemplateJobSource:
        """Load a JSON template file."""
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def make_job(self, job_id: str) -> Job:
        return self._job.with_id(job_id, clean=True)
