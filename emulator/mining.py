"""CPU hashing for the emulated live miners: real nonces from a few worker processes.

A :class:`WorkUnit` is one header template (job, extranonce2, rolled version, ntime) and a
nonce range; :func:`mine_unit` scans it with the pool side's own miner-side scanner
(:func:`asic_bridge.stratum.client.scan_nonces`: SHA-256d from a midstate of the first
64 header bytes, or LBRY's proof of work) and reports the nonces meeting the unit's
difficulty, how many hashes it did and how long that took *inside the worker* (so the
measured host hash rate excludes queueing and process start-up).

:class:`HashWorkers` runs units on a bounded ``spawn`` process pool (never ``fork``: the
emulator has threads) from an asyncio loop. :func:`work_coordinates` lays out the search
space of one job the way ESP-Miner does: extranonce2 a little-endian counter, the version
rolled inside the negotiated mask.

:func:`search_chip_nonce` is the same search as a BM13xx chip core does it, for the chip
UART face: one core's nonce sub-range (chip address and core in the nonce's top bits),
the version rolled per small core; :func:`measure_chip_search_hs` times it on this host.
:func:`spread_bits` is the one bit-scatter (version rolling) both use.

Unit of difficulty: pool difficulty ("pdiff"); a share at difficulty ``D`` costs on average
``D * 2**32`` hashes (:data:`HASHES_PER_DIFFICULTY`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass

from asic_bridge.errors import NotRunning
from asic_bridge.hashing import target_of_difficulty
from asic_bridge.serial.chips import ChipFamily
from asic_bridge.serial.codec import Job as ChipJob
from asic_bridge.serial.codec import NonceReply
from asic_bridge.stratum.client import scan_nonces
from asic_bridge.stratum.jobs import Job, SyntheticJobSource

HASHES_PER_DIFFICULTY = 2.0**32
"""Expected hashes per share at difficulty 1."""

NONCE_SPACE = 1 << 32


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A nonce range of one header. ``version`` is the rolled header version; ``start`` and
    ``count`` delimit the nonces; ``difficulty`` is what a reported nonce must reach."""

    job: Job
    extranonce1: bytes
    extranonce2: bytes
    ntime: int
    version: int
    start: int
    count: int
    difficulty: float


@dataclass(frozen=True, slots=True)
class WorkResult:
    """What a worker found: ``(nonce, hash as integer)`` pairs meeting the unit's
    difficulty, the hashes done and the worker's own time spent on them (seconds)."""

    found: tuple[tuple[int, int], ...]
    hashes: int
    elapsed_s: float


def mine_unit(unit: WorkUnit) -> WorkResult:
    """Scan ``unit`` (runs in a worker process; a plain function so it pickles)."""
    t0 = time.perf_counter()
    found = scan_nonces(
        unit.job,
        unit.extranonce1,
        unit.extranonce2,
        ntime=unit.ntime,
        version=unit.version,
        start=unit.start,
        count=unit.count,
        difficulty=unit.difficulty,
    )
    return WorkResult(tuple(found), unit.count, time.perf_counter() - t0)


def _worker_init() -> None:
    # Ctrl-C is the parent's business: it shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def spread_bits(value: int, mask: int) -> int:
    """Deposit the low bits of ``value`` into the set bits of ``mask``, lowest first
    (so counting 0, 1, 2... walks through the versions a mask allows)."""
    out = 0
    while mask and value:
        low = mask & -mask
        if value & 1:
            out |= low
        value >>= 1
        mask ^= low
    return out


CHIP_NONCE_COUNTER_BITS = 17
"""Nonces per (chip address, core) sub-range: 2**17 (BM1366: chip address in bits
17..24 and core in bits 25..31 of the nonce read big-endian)."""


def search_chip_nonce(
    fam: ChipFamily,
    job: ChipJob,
    *,
    address: int,
    core: int,
    start: int,
    difficulty: float,
    version_mask: int,
    version_start: int = 0,
    max_hashes: int = 1 << 26,
) -> tuple[NonceReply | None, int]:
    """Find a nonce in one chip core's sub-range meeting ``difficulty``; returns
    (reply as the chip sends it, hashes done).

    Counters run from ``start`` through the 2**17 nonces of (chip address, core); the
    small cores of a core hash the same nonce with successive rolled versions (one per
    small core, :func:`spread_bits` of a counter into ``version_mask``'s rolling field).
    Returns (None, hashes) if ``max_hashes`` run out first.
    """
    target = target_of_difficulty(difficulty)
    rolls = (version_mask >> 13) & 0xFFFF
    lanes = fam.small_cores_per_core if rolls else 1
    tail_fixed = job.merkle_root[28:] + job.ntime.to_bytes(4, "little") + job.nbits.to_bytes(
        4, "little"
    )
    span = 1 << CHIP_NONCE_COUNTER_BITS
    prefix = (core << 25) | (address << CHIP_NONCE_COUNTER_BITS)
    sha = hashlib.sha256
    hashes = 0
    block = 256
    version_base = version_start
    while hashes < max_hashes:
        mids = []
        for lane in range(lanes):
            field_ = spread_bits(version_base + lane, rolls) if rolls else 0
            version = job.version | (field_ << 13)
            mids.append((lane, field_, sha(version.to_bytes(4, "little") + job.prev_hash
                                            + job.merkle_root[:28])))
        for b0 in range(0, span, block):
            for lane, field_, mid in mids:
                for i in range(b0, b0 + block):
                    raw = (prefix | ((start + i) & (span - 1))).to_bytes(4, "big")
                    h = mid.copy()
                    h.update(tail_fixed + raw)
                    if int.from_bytes(sha(h.digest()).digest(), "little") <= target:
                        id_byte = fam.id_byte_for(job.job_id, lane)
                        return NonceReply(raw, 0, id_byte, field_), hashes + i - b0 + 1
                hashes += block
            if hashes >= max_hashes:
                break
        version_base += lanes
    return None, hashes


def measure_chip_search_hs(fam: ChipFamily, seconds: float = 0.05) -> float:
    """Hashes per second :func:`search_chip_nonce` does on this host, in this thread
    (a search that cannot succeed, timed for about ``seconds``)."""
    job = ChipJob(0, 0x20000000, bytes(32), bytes(32), 0, 0)
    hashes, t0 = 0, time.perf_counter()
    while True:
        _, n = search_chip_nonce(fam, job, address=0, core=0, start=0, difficulty=2.0**40,
                                 version_mask=0, max_hashes=4096)
        hashes += n
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return hashes / elapsed


def work_coordinates(
    index: int, *, extranonce2_size: int, version_mask: int, rolls_per_extranonce2: int = 16
) -> tuple[bytes, int, int]:
    """Where work unit ``index`` of a job searches: ``(extranonce2, version_bits, block)``.

    ``extranonce2`` is a little-endian counter (ESP-Miner's: counter 1 is ``01000000``);
    each extranonce2 is searched with ``rolls_per_extranonce2`` versions rolled inside
    ``version_mask`` (``version_bits`` = rolled version XOR job version, as submitted); when
    the counter wraps, more version bits and then ``block`` (a nonce-range block number)
    take over, so no two indices share a header and nonce range.
    """
    if index < 0 or extranonce2_size < 0:
        raise ValueError("index and extranonce2_size must be >= 0")
    rolling_bits = bin(version_mask & 0xFFFFFFFF).count("1")
    rolls = max(1, min(rolls_per_extranonce2, 1 << rolling_bits))
    en2_space = 1 << (8 * extranonce2_size)
    counter, roll = divmod(index, rolls)
    wraps, counter = divmod(counter, en2_space)
    roll += rolls * wraps
    block, roll = divmod(roll, 1 << rolling_bits)
    return counter.to_bytes(extranonce2_size, "little"), spread_bits(roll, version_mask), block


class HashWorkers:
    """A bounded pool of hashing processes shared by every emulated miner of a process.

    ``workers``: process count (default: one fewer than the CPUs, at least 1; never more
    than the CPUs). Use from one event loop: :meth:`start`, ``await`` :meth:`mine`,
    :meth:`close`. The measured rates are in hashes per second (H/s).
    """

    def __init__(self, workers: int | None = None) -> None:
        cpus = os.cpu_count() or 1
        if workers is None:
            workers = max(1, cpus - 1)
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = min(workers, cpus)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self.hashes = 0
        self.worker_s = 0.0
        self.found = 0
        self._window: list[tuple[float, int]] = []  # (monotonic s, hashes) per result

    def start(self) -> HashWorkers:
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
        return self

    def close(self) -> None:
        """Stop the processes (waits for the units already running: one chunk, ~50 ms)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    @property
    def running(self) -> bool:
        return self._executor is not None

    async def mine(self, unit: WorkUnit) -> WorkResult:
        """Scan ``unit`` in a worker process."""
        if self._executor is None:
            raise NotRunning("HashWorkers not started: call start() first")
        loop = asyncio.get_running_loop()
        result: WorkResult = await loop.run_in_executor(self._executor, mine_unit, unit)
        self.hashes += result.hashes
        self.worker_s += result.elapsed_s
        self.found += len(result.found)
        now = time.monotonic()
        self._window.append((now, result.hashes))
        while self._window and self._window[0][0] < now - 10.0:
            self._window.pop(0)
        return result

    @property
    def rate_per_worker_hs(self) -> float:
        """Measured hashes per second of one busy worker (0.0 before any result)."""
        return self.hashes / self.worker_s if self.worker_s > 0 else 0.0

    @property
    def capacity_hs(self) -> float:
        """What all workers hash when busy (H/s): per-worker rate x workers."""
        return self.rate_per_worker_hs * self.workers

    def recent_rate_hs(self, window_s: float = 5.0) -> float:
        """Hashes actually done per second over the last ``window_s`` seconds."""
        now = time.monotonic()
        done = sum(h for t, h in self._window if t >= now - window_s)
        return done / window_s

    async def calibrate(self, *, lbry: bool, seconds: float = 0.1) -> float:
        """Measure :attr:`capacity_hs` for SHA-256d (or LBRY) by keeping every worker
        busy for about ``seconds``; returns it (H/s)."""
        job = SyntheticJobSource(seed=0, lbry=lbry).make_job("calibration")
        probe = 2048 if lbry else 16384
        # one small unit first so that process start-up does not count
        await self.mine(self._unit(job, 0, probe))
        count = max(probe, int(self.rate_per_worker_hs * seconds))
        await asyncio.gather(*(self.mine(self._unit(job, i + 1, count)) for i in range(self.workers)))
        return self.capacity_hs

    @staticmethod
    def _unit(job: Job, index: int, count: int) -> WorkUnit:
        return WorkUnit(job, bytes(4), index.to_bytes(4, "little"), job.ntime, job.version,
                        0, count, 1e12)
