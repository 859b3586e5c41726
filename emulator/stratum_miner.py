"""Emulated live miners: real Stratum V1 clients that submit real nonces at the moments
the physics model says the device finds them.

Each :class:`EmulatedStratumMiner` is one device: a :class:`~emulator.live.LiveEmulator`
(the physics in real time) and one pool connection spoken through the pool side's
sans-IO :class:`~asic_bridge.stratum.client.ClientSession`, in ESP-Miner's order
(``mining.configure`` asking version rolling with mask ``ffffffff``, ``mining.subscribe``,
``mining.authorize``, optionally ``mining.suggest_difficulty``). It answers
``mining.ping``, follows ``set_difficulty``, ``notify``, ``set_version_mask``,
``set_extranonce``, logs ``client.show_message`` and reconnects on ``client.reconnect``.

Mining: a :class:`StratumMinerFarm` shares one pool of hashing processes
(:class:`~emulator.mining.HashWorkers`) between all its miners and keeps a small buffer
of genuine solutions per miner for its current job at its pool difficulty (extranonce2
a little-endian counter, the version rolled inside the negotiated mask). When the model
reports a share (firmware batching and network latency applied), the miner submits one
buffered solution at once, with ``version_bits`` = rolled version XOR job version, as
ESP-Miner does. So *when* shares arrive is physics; *what* arrives verifies at the pool.

Choices, each documented where it matters:

* **Hardware errors are not submitted.** ESP-Miner computes each nonce's difficulty and
  submits only those reaching the pool difficulty; a chip's wrong result never does, so
  a real LV06 never sends one. They are counted (:attr:`MinerStats.hardware_errors`).
* **Starvation is reported, never faked.** If no mined solution is ready when the model
  reports a share, the share is counted as starved (:attr:`MinerStats.starved`) and a
  warning (rate-limited) gives the measured host hash rate against the rate needed.
* **Hash-rate scale.** A modelled device hashes at hundreds of GH/s, a CPU at a few MH/s.
  The model's share process therefore runs at ``pool difficulty / hashrate_scale``: the
  emulated miner behaves like its device scaled down by ``hashrate_scale`` in hash rate
  (temperatures, errors, latencies unchanged), so its share rate is
  ``hashrate x hashrate_scale x speed / (difficulty x 2**32)`` per second. With
  ``hashrate_scale=1`` the model's difficulty is the pool's (faithful, but only
  affordable at huge difficulties). ``None`` picks the scale at which all miners together
  need half the host's measured hash rate, whatever the pool's difficulty.
* **Timing.** The live model runs one tick (``tick_s``) ahead and hands each share over
  early with its due time; the submit is scheduled on the event loop for exactly that
  time (``loop.call_at``), so it leaves within the loop's timer resolution (~1 ms) of the
  modelled arrival rather than on the model's tick.
* **LBRY** (LB-Box): the 10-parameter notify with the claim-trie root, LBRY proof of
  work; no version rolling (LBRY pools do not offer BIP310).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from asic_bridge.errors import ProtocolError
from asic_bridge.events import ShareEvent, ShareOutcome
from asic_bridge.hashing import DIFF1_TARGET
from asic_bridge.stratum.client import (
    Authorized,
    ClientEvent,
    ClientSession,
    Configured,
    NewDifficulty,
    NewExtranonce,
    NewJob,
    OtherMessage,
    ShareResult,
    Subscribed,
)
from asic_bridge.stratum.jobs import Job
from asic_bridge.stratum.messages import LineSplitter, Notification, Request, encode_response
from asic_bridge.stratum.server import cancel_and_wait
from emulator import EMULATOR_VERSION
from emulator.live import LiveEmulator
from emulator.mining import HASHES_PER_DIFFICULTY, HashWorkers, WorkResult, WorkUnit, work_coordinates
from emulator.profiles import profile_for

log = logging.getLogger("hashrc.emulator.stratum")

_READ_BYTES = 65536
_KEEP_JOBS = 4  # solutions of this many most recent jobs stay usable after a non-clean notify


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


@dataclass(frozen=True, slots=True)
class _Solution:
    job_id: str
    generation: int
    extranonce2: bytes
    ntime: int
    nonce: int
    version_bits: int | None
    share_difficulty: float


@dataclass(frozen=True, slots=True)
class _Pending:
    unit: WorkUnit
    generation: int
    job_id: str
    version_bits: int | None
    expected: float  # expected solutions in the unit


class EmulatedStratumMiner:
    """One emulated device with its own pool connection (created by a farm)."""

    def __init__(
        self,
        farm: StratumMinerFarm,
        *,
        model: str,
        serial: str,
        seed: int,
        user: str,
        password: str,
        suggest_difficulty: float | None,
    ) -> None:
        self.farm = farm
        self.serial = serial
        spec = profile_for(model).spec
        self.lbry = spec.algorithm == "lbry"
        self.agent = f"hashrc-emulator/{spec.model}/{spec.chip}"
        self.user = user
        self.password = password
        self.suggest_difficulty = suggest_difficulty
        self.live = LiveEmulator(model, serial=serial, seed=seed, speed=farm.speed, tick_s=farm.tick_s)
        self.live.subscribe_shares(self._from_model_thread)
        self.stats = MinerStats(serial=serial, user=user)
        self.client: ClientSession | None = None
        self.difficulty: float | None = None
        self.version_mask = 0
        self.generation = 0
        self._jobs: deque[str] = deque(maxlen=_KEEP_JOBS)
        self._job: Job | None = None
        self._work_index = 0
        self._solutions: deque[_Solution] = deque()
        self._inflight_expected = 0.0
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._reconnect_wait_s: float | None = None
        self._hashrate_hs = spec.nominal_hashrate_ghs * 1e9
        self._ok_rate = 1.0
        self._warned_cap = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live_started = False
        self._invalidated_s = -math.inf
        self._futures: set[asyncio.Future[WorkResult]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._connection_loop(), name=f"miner:{self.serial}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.live.close()

    # --- the model's shares -------------------------------------------------------------

    def _from_model_thread(self, event: ShareEvent) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._schedule_share, event)

    def _schedule_share(self, event: ShareEvent) -> None:
        """Submit when the host would receive the share (asyncio's clock is monotonic)."""
        loop = self._loop
        assert loop is not None
        loop.call_at(self.live.monotonic_at(event.t_ns), self._on_model_share, event)

    def _on_model_share(self, event: ShareEvent) -> None:
        stats = self.stats
        if event.outcome is ShareOutcome.HARDWARE_ERROR:
            stats.hardware_errors += 1  # ESP-Miner drops results below the pool difficulty
            return
        stats.model_shares += 1
        client, writer = self.client, self._writer
        if (client is None or writer is None or not client.authorized or self._job is None
                or self.difficulty is None):
            stats.idle += 1
            return
        solution = self._take_solution()
        if solution is None:
            if time.monotonic() - self._invalidated_s < self.farm.switch_grace_s:
                stats.lost_at_switch += 1  # fresh work not mined yet after a clean job
            else:
                stats.starved += 1
                self.farm.note_starved()
            return
        _, line = client.submit(
            solution.job_id, solution.extranonce2, solution.ntime, solution.nonce,
            solution.version_bits,
        )
        writer.write(line)
        stats.submitted += 1
        self.farm.wake()

    def _take_solution(self) -> _Solution | None:
        """The newest usable solution: same generation, a job the pool still knows, and at
        least the current difficulty (the pool judges by the lower of job-time and current
        difficulty; this is never laxer)."""
        difficulty = self.difficulty or math.inf
        while self._solutions:
            s = self._solutions.pop()
            if s.generation == self.generation and s.job_id in self._jobs and (
                s.share_difficulty >= difficulty
            ):
                return s
        return None

    # --- work for the hashing pool ---------------------------------------------------------

    def expected_share_rate_hz(self) -> float:
        """The model's valid-share rate at the current pool difficulty (per wall second)."""
        model_difficulty = self.stats.model_difficulty
        if not model_difficulty:
            return 0.0
        return self._hashrate_hs * self._ok_rate * self.farm.speed / (
            model_difficulty * HASHES_PER_DIFFICULTY
        )

    def refresh_model_rate(self) -> None:
        """Re-read the model's current hash rate and error probability (from the loop)."""
        chips = range(self.live.chip_count)
        rates = [self.live.hashrate_hs(c) for c in chips]
        total = sum(rates)
        if total > 0:
            errors = sum(r * self.live.hw_error_probability(c) for c, r in zip(chips, rates, strict=True))
            self._hashrate_hs = total
            self._ok_rate = 1.0 - errors / total

    def target_depth(self) -> int:
        """How many solutions to keep ready: about ``farm.buffer_s`` of shares, >= 2."""
        return max(2, min(512, math.ceil(self.expected_share_rate_hz() * self.farm.buffer_s) + 1))

    def need(self) -> float:
        """Missing solutions relative to the target depth (> 0 wants work)."""
        if self._job is None or self.difficulty is None or self.client is None:
            return 0.0
        depth = self.target_depth()
        return (depth - len(self._solutions) - self._inflight_expected) / depth

    def next_work(self, hashes: int) -> _Pending | None:
        """The next unit of ``hashes`` nonces for the current job, or None without one."""
        client, job, difficulty = self.client, self._job, self.difficulty
        if client is None or job is None or difficulty is None or client.extranonce1 is None:
            return None
        en2, bits, block = work_coordinates(
            self._work_index,
            extranonce2_size=client.extranonce2_size,
            version_mask=self.version_mask,
        )
        self._work_index += 1
        start = (block * hashes) % (1 << 32)
        unit = WorkUnit(job, client.extranonce1, en2, job.ntime, job.version ^ bits, start, hashes,
                        difficulty)
        expected = hashes / (difficulty * HASHES_PER_DIFFICULTY)
        self._inflight_expected += expected
        return _Pending(unit, self.generation, job.job_id, bits if self.version_mask else None,
                        expected)

    def deliver(self, pending: _Pending, result: WorkResult | None) -> None:
        """Take a finished unit's solutions (dropped if the work went stale meanwhile)."""
        self._inflight_expected = max(0.0, self._inflight_expected - pending.expected)
        if result is None or pending.generation != self.generation:
            return
        difficulty = self.difficulty or math.inf
        unit = pending.unit
        for nonce, value in result.found:
            share_difficulty = math.inf if value == 0 else DIFF1_TARGET / value
            if share_difficulty < difficulty:
                continue
            self._solutions.append(_Solution(pending.job_id, pending.generation, unit.extranonce2,
                                             unit.ntime, nonce, pending.version_bits, share_difficulty))
            self.stats.solutions_found += 1
        if self._solutions and not self._live_started:
            # the device starts once its first work is loaded (no share before any work)
            self._live_started = True
            self.live.start()
        cap = 2 * self.target_depth() + 8
        while len(self._solutions) > cap:
            self._solutions.popleft()

    def _invalidate(self) -> None:
        """Void all buffered and queued work (clean job, new extranonce, mask, connection)."""
        self.generation += 1
        self._solutions.clear()
        self._invalidated_s = time.monotonic()
        for future in list(self._futures):
            future.cancel()  # frees queued units at once; a running one finishes unused
        self.farm.wake()

    # --- the pool connection ---------------------------------------------------------------

    async def _connection_loop(self) -> None:
        farm = self.farm
        backoff_s = farm.reconnect_min_s
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(farm.host, farm.port), farm.connect_timeout_s
                )
            except (OSError, TimeoutError) as exc:
                log.info("%s: cannot connect to %s:%s: %s", self.serial, farm.host, farm.port, exc)
                await asyncio.sleep(backoff_s)
                backoff_s = min(2 * backoff_s, farm.reconnect_max_s)
                continue
            backoff_s = farm.reconnect_min_s
            self._reconnect_wait_s = None
            try:
                await self._session(reader, writer)
            except (OSError, ProtocolError) as exc:
                log.warning("%s: connection to the pool lost: %s", self.serial, exc)
            finally:
                self._writer = None
                self.stats.connected = False
                writer.close()
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()
            wait_s = self._reconnect_wait_s if self._reconnect_wait_s is not None else backoff_s
            await asyncio.sleep(wait_s)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = ClientSession(
            user=self.user,
            password=self.password,
            agent=self.agent,
            version_rolling=not self.lbry,
            requested_mask=0xFFFFFFFF,
            suggest_difficulty=self.suggest_difficulty,
            lbry=self.lbry,
        )
        self.client = client
        self._job = None
        self._jobs.clear()
        self.difficulty = None
        self.version_mask = 0
        self._work_index = 0
        self._invalidate()
        self._writer = writer
        self.stats.connects += 1
        self.stats.connected = True
        writer.write(client.handshake())
        splitter = LineSplitter()
        while True:
            data = await reader.read(_READ_BYTES)
            if not data:
                raise ConnectionResetError("the pool closed the connection")
            for line in splitter.feed(data):
                try:
                    events, reply = client.feed_line(line)
                except ProtocolError as exc:  # one bad line from the pool: ignore it, as firmware does
                    log.warning("%s: bad line from the pool: %s", self.serial, exc)
                    continue
                if reply:
                    writer.write(reply)
                for event in events:
                    if self._handle(event, writer):
                        return  # client.reconnect

    def _handle(self, event: ClientEvent, writer: asyncio.StreamWriter) -> bool:
        """Apply one pool event; True asks to reconnect."""
        stats = self.stats
        if isinstance(event, NewJob):
            job = event.job
            if job.clean:
                self._invalidate()
                self._jobs.clear()
            self._job = job
            self._jobs.append(job.job_id)
            self.farm.wake()
        elif isinstance(event, NewDifficulty):
            self._set_difficulty(event.difficulty)
        elif isinstance(event, Configured):
            mask = event.version_mask or 0
            if mask != self.version_mask:
                self.version_mask = mask
                self._invalidate()
            stats.version_mask = mask
        elif isinstance(event, NewExtranonce):
            self._work_index = 0
            self._invalidate()
            self.farm.wake()
        elif isinstance(event, ShareResult):
            if event.outcome is ShareOutcome.ACCEPTED:
                stats.accepted += 1
            else:
                key = event.outcome.value
                stats.rejected[key] = stats.rejected.get(key, 0) + 1
        elif isinstance(event, Authorized):
            if not event.ok:
                log.error("%s: the pool refused user %r: %s", self.serial, self.user, event.error)
            self.farm.wake()
        elif isinstance(event, Subscribed):
            self.farm.wake()
        elif isinstance(event, OtherMessage):
            return self._other(event.message, writer)
        return False

    def _other(self, message: Any, writer: asyncio.StreamWriter) -> bool:
        if not isinstance(message, Request | Notification):
            return False
        method, params = message.method, message.params
        if method == "client.show_message":
            text = str(params[0]) if params else ""
            self.stats.messages.append(text)
            log.info("%s: message from the pool: %s", self.serial, text)
        elif method == "client.reconnect":
            wait = params[2] if len(params) > 2 else 0
            wait_s = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else 0.0
            self._reconnect_wait_s = min(max(wait_s, 0.0), self.farm.reconnect_max_s)
            log.info("%s: pool asked to reconnect (in %.1f s)", self.serial, self._reconnect_wait_s)
            return True
        elif method == "client.get_version" and isinstance(message, Request):
            writer.write(encode_response(message.id, self.agent))
        return False

    def _set_difficulty(self, difficulty: float) -> None:
        farm = self.farm
        self.difficulty = difficulty
        self.stats.difficulty = difficulty
        # the model's share process at the scaled difficulty, floored so that the model
        # never asks for more than farm.max_share_rate_hz
        model_difficulty = difficulty / farm.hashrate_scale
        floor = self._hashrate_hs * farm.speed / (farm.max_share_rate_hz * HASHES_PER_DIFFICULTY)
        if model_difficulty < floor:
            if not self._warned_cap:
                farm.warn(
                    f"{self.serial}: difficulty {difficulty:g} at hashrate scale "
                    f"{farm.hashrate_scale:g} asks for more than {farm.max_share_rate_hz:g} "
                    f"shares/s; the model is held at that rate (most will starve)"
                )
                self._warned_cap = True
            model_difficulty = floor
        self.stats.model_difficulty = model_difficulty
        self.live.set_difficulty(model_difficulty)
        # solutions below the new difficulty are no longer shares
        self._solutions = deque(s for s in self._solutions if s.share_difficulty >= difficulty)
        farm.wake()


class StratumMinerFarm:
    """``count`` emulated miners of ``model`` connected to the pool at ``host:port``,
    sharing one pool of hashing processes, in one event loop.

    Miner ``i`` has serial ``f"{serial_prefix}-{i + 1:04d}"`` (default prefix
    ``MODEL-EMU``; the serial sets the silicon), seed ``seed + i`` and user
    ``f"{user}.{serial}"``. Knobs (times in seconds, rates per second):

    * ``workers``: hashing processes (see :class:`~emulator.mining.HashWorkers`);
    * ``hashrate_scale``: see the module docstring; ``None`` sets it so that all miners
      together need ``host_utilization`` of the measured host hash rate;
    * ``speed``, ``tick_s``: the live models' time scale and tick;
    * ``buffer_s``: each miner keeps about this many seconds of shares mined ahead;
    * ``chunk_s``: the length of one hashing unit;
    * ``max_share_rate_hz``: ceiling of one model's share rate (protects the model thread
      from a scale/difficulty pair asking for millions of shares per second);
    * ``switch_grace_s``: a share with nothing mined yet this soon after a clean job counts
      as ``lost_at_switch``, not as starved;
    * ``warn_interval_s``: at most one starvation warning per interval.

    Use ``async with`` or :meth:`start`/:meth:`close`, or :meth:`run`;
    :class:`MinerFarmThread` runs it from synchronous code. The workers are spawned
    processes: a script using this must guard its entry point with
    ``if __name__ == "__main__":``.
    """

    def __init__(
        self,
        model: str,
        host: str,
        port: int,
        *,
        count: int = 1,
        seed: int = 0,
        serial_prefix: str | None = None,
        workers: int | None = None,
        hashrate_scale: float | None = None,
        host_utilization: float = 0.5,
        speed: float = 1.0,
        tick_s: float = 0.02,
        user: str = "hashrc",
        password: str = "x",
        suggest_difficulty: float | None = None,
        buffer_s: float = 1.0,
        chunk_s: float = 0.04,
        max_share_rate_hz: float = 1000.0,
        switch_grace_s: float = 0.25,
        warn_interval_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
    ) -> None:
        profile_for(model)  # validates the model
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if hashrate_scale is not None and not hashrate_scale > 0:
            raise ValueError(f"hashrate_scale must be > 0, got {hashrate_scale}")
        if not 0 < host_utilization <= 1:
            raise ValueError(f"host_utilization must be in (0, 1], got {host_utilization}")
        for name, value in (("speed", speed), ("tick_s", tick_s), ("buffer_s", buffer_s),
                            ("chunk_s", chunk_s), ("max_share_rate_hz", max_share_rate_hz)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.model = model.lower()
        self.host = host
        self.port = port
        self.count = count
        self.seed = seed
        self.serial_prefix = serial_prefix or f"{self.model.upper()}-EMU"
        self.workers = HashWorkers(workers)
        self.hashrate_scale = hashrate_scale if hashrate_scale is not None else math.nan
        self._auto_scale = hashrate_scale is None
        self.host_utilization = host_utilization
        self.speed = speed
        self.tick_s = tick_s
        self.user = user
        self.password = password
        self.suggest_difficulty = suggest_difficulty
        self.buffer_s = buffer_s
        self.chunk_s = chunk_s
        self.max_share_rate_hz = max_share_rate_hz
        self.switch_grace_s = switch_grace_s
        self.warn_interval_s = warn_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.lbry = profile_for(model).spec.algorithm == "lbry"
        self.miners: list[EmulatedStratumMiner] = []
        self.warnings: list[str] = []
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Future[WorkResult]] = set()
        self._starved_window = 0
        self._last_warning_s = -math.inf
        self._started = False
        self._broken = False

    @property
    def address(self) -> tuple[str, int]:
        """The pool the miners connect to."""
        return self.host, self.port

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the hashing processes, calibrate (for the automatic scale), connect."""
        if self._started:
            return
        self._started = True
        self._wake = asyncio.Event()
        self.workers.start()
        try:
            capacity = await self.workers.calibrate(lbry=self.lbry)
        except BaseException:
            self.workers.close()
            raise
        if self._auto_scale:
            nominal_hs = profile_for(self.model).spec.nominal_hashrate_ghs * 1e9
            self.hashrate_scale = self.host_utilization * capacity / (self.count * nominal_hs * self.speed)
        for i in range(self.count):
            serial = f"{self.serial_prefix}-{i + 1:04d}"
            self.miners.append(EmulatedStratumMiner(
                self, model=self.model, serial=serial, seed=self.seed + i,
                user=f"{self.user}.{serial}", password=self.password,
                suggest_difficulty=self.suggest_difficulty,
            ))
        for miner in self.miners:
            miner.start()
        self._tasks.append(asyncio.create_task(self._schedule(), name="farm:schedule"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="farm:housekeeping"))

    async def close(self) -> None:
        """Disconnect every miner, stop the models and the hashing processes (idempotent)."""
        await cancel_and_wait(self._tasks)
        for miner in self.miners:
            await miner.close()
        self.workers.close()  # waits for at most one running unit per process
        for future in list(self._inflight):
            future.cancel()
        await asyncio.sleep(0)  # let cancelled units run their callbacks

    async def __aenter__(self) -> StratumMinerFarm:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(
        self,
        *,
        duration_s: float | None = None,
        stop: threading.Event | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> FarmStats:
        """Start, run until ``duration_s`` seconds passed or ``stop`` is set (polled every
        0.1 s), close; returns the last :meth:`stats`. ``on_start`` is called once running."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        async with self:
            if on_start is not None:
                on_start()
            while not (stop is not None and stop.is_set()):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.1)
            return self.stats()

    # --- scheduling -----------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the scheduler to look for work to hand out."""
        if self._wake is not None:
            self._wake.set()

    def _chunk_hashes(self) -> int:
        rate = self.workers.rate_per_worker_hs or (2e5 if self.lbry else 1e6)
        return max(1024, min(1 << 20, int(rate * self.chunk_s)))

    async def _schedule(self) -> None:
        assert self._wake is not None
        max_inflight = 2 * self.workers.workers  # one running, one queued per process
        while True:
            await self._wake.wait()
            self._wake.clear()
            while len(self._inflight) < max_inflight and not self._broken:
                candidates = [(m.need(), i) for i, m in enumerate(self.miners)]
                need, index = max(candidates)
                if need <= 0:
                    break
                miner = self.miners[index]
                pending = miner.next_work(self._chunk_hashes())
                if pending is None:
                    break
                future = asyncio.ensure_future(self.workers.mine(pending.unit))
                self._inflight.add(future)
                miner._futures.add(future)
                future.add_done_callback(lambda f, m=miner, p=pending: self._done(f, m, p))

    def _done(self, future: asyncio.Future[WorkResult], miner: EmulatedStratumMiner,
              pending: _Pending) -> None:
        self._inflight.discard(future)
        miner._futures.discard(future)
        result = None
        if not future.cancelled():
            exc = future.exception()
            if exc is not None:
                if self.workers.running and not self._broken:
                    self._broken = True  # e.g. a worker process killed: no more hashing
                    self.warn(f"hashing workers failed ({exc!r}); no more nonces will be mined")
            else:
                result = future.result()
        miner.deliver(pending, result)
        self.wake()

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for miner in self.miners:
                miner.refresh_model_rate()
            self.wake()
            if self._starved_window and time.monotonic() - self._last_warning_s >= self.warn_interval_s:
                self._warn_starved()

    def note_starved(self) -> None:
        """A miner had no solution when its model found a share."""
        self._starved_window += 1
        if time.monotonic() - self._last_warning_s >= self.warn_interval_s:
            self._warn_starved()

    def _warn_starved(self) -> None:
        now = time.monotonic()
        since = "" if math.isinf(self._last_warning_s) else f" in the last {now - self._last_warning_s:.1f} s"
        rate = sum(m.expected_share_rate_hz() for m in self.miners)
        needed_hs = sum(
            m.expected_share_rate_hz() * (m.difficulty or 0.0) * HASHES_PER_DIFFICULTY for m in self.miners
        )
        self.warn(
            f"{self._starved_window} emulated share(s) starved{since}: no mined nonce was ready "
            f"(none faked). The models ask for {rate:.3g} shares/s at the pool difficulty, "
            f"{needed_hs:.3g} H/s; this host hashes {self.workers.capacity_hs:.3g} H/s with "
            f"{self.workers.workers} worker(s). Lower the difficulty, the hashrate scale or the count."
        )
        self._starved_window = 0
        self._last_warning_s = now

    def warn(self, text: str) -> None:
        """Log a warning and keep it for :meth:`stats`."""
        self.warnings.append(text)
        del self.warnings[:-50]
        log.warning("%s", text)

    def stats(self) -> FarmStats:
        """A snapshot (safe to call from another thread: counters are copied)."""
        return FarmStats(
            miners=[m.stats.copy() for m in self.miners],
            workers=self.workers.workers,
            host_hashrate_hs=self.workers.capacity_hs,
            recent_hashrate_hs=self.workers.recent_rate_hs(),
            hashrate_scale=self.hashrate_scale,
            warnings=list(self.warnings),
        )


class MinerFarmThread:
    """A :class:`StratumMinerFarm` on its own event loop in a background thread, for
    synchronous code: ``with MinerFarmThread(farm) as t: ...; t.farm.stats()``."""

    def __init__(self, farm: StratumMinerFarm) -> None:
        from asic_bridge.stratum.server import ServiceThread

        self.farm = farm
        self._thread = ServiceThread(farm, name="emulated-miners")

    def start(self, timeout_s: float = 30.0) -> MinerFarmThread:
        self._thread.start(timeout_s)
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        self._thread.close(timeout_s)

    def __enter__(self) -> MinerFarmThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_stratum_miners(
    model: str,
    host: str,
    port: int,
    *,
    count: int = 1,
    seed: int = 0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    serial_prefix: str | None = None,
    workers: int | None = None,
    hashrate_scale: float | None = None,
    speed: float = 1.0,
    user: str = "hashrc",
    password: str = "x",
    suggest_difficulty: float | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run ``count`` emulated ``model`` miners against the pool at ``host:port`` until
    ``duration_s`` seconds passed or ``stop`` is set; print a summary through ``out``.

    Returns 0 when at least one miner completed a connection, 1 otherwise. Blocks the
    calling thread (its own event loop). Warnings (starvation) go to the
    ``hashrc.emulator.stratum`` logger, which prints to stderr if nothing else handles it.
    """
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    farm = StratumMinerFarm(
        model, host, port, count=count, seed=seed, serial_prefix=serial_prefix, workers=workers,
        hashrate_scale=hashrate_scale, speed=speed, user=user, password=password,
        suggest_difficulty=suggest_difficulty,
    )

    def started() -> None:
        out(
            f"hashrc emulate: {count} {farm.model} miner(s) -> {host}:{port}; "
            f"{farm.workers.workers} hashing process(es) at {farm.workers.capacity_hs:.3g} H/s; "
            f"hashrate scale {farm.hashrate_scale:.3g} ({EMULATOR_VERSION})"
        )

    stats = asyncio.run(farm.run(duration_s=duration_s, stop=stop, on_start=started))
    rejected = sum(sum(m.rejected.values()) for m in stats.miners)
    out(
        f"hashrc emulate: model shares {stats.total('model_shares')}, submitted "
        f"{stats.total('submitted')}, accepted {stats.total('accepted')}, rejected {rejected}, "
        f"starved {stats.total('starved')}, hardware errors {stats.total('hardware_errors')}, "
        f"idle {stats.total('idle')}"
    )
    return 0 if any(m.connects for m in stats.miners) else 1
