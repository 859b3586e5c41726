"""One emulated miner's pool connection: the Stratum client in ESP-Miner's order, the
buffer of genuinely mined solutions, and the submit at the moment the model says the
chip found the share. See :mod:`emulator.stratum_miner` for the choices made."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from emulator.live import LiveEmulator
from emulator.miner_stats import MinerStats
from emulator.mining import HASHES_PER_DIFFICULTY, WorkResult, WorkUnit, work_coordinates
from emulator.profiles import profile_for

if TYPE_CHECKING:
    from emulator.miner_farm import StratumMinerFarm

log = logging.getLogger("hashrc.emulator.stratum")

_READ_BYTES = 65536
_KEEP_JOBS = 4  # solutions of this many most recent jobs stay usable after a non-clean notify


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
        live: LiveEmulator | None = None,
    ) -> None:
        self.farm = farm
        self.serial = serial
        spec = profile_for(model).spec
        self.lbry = spec.algorithm == "lbry"
        self.agent = f"hashrc-emulator/{spec.model}/{spec.chip}"
        self.user = user
        self.password = password
        self.suggest_difficulty = suggest_difficulty
        # a given live model (e.g. the one behind the HTTP face of the same device) is
        # shared, started and closed by its owner; otherwise the miner owns its own
        self._owns_live = live is None
        self.live = live if live is not None else LiveEmulator(
            model, serial=serial, seed=seed, speed=farm.speed, tick_s=farm.tick_s)
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
        if self._owns_live:
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
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancel
                # that arrives as the connect fails (close then hung on a retrying miner)
                async with asyncio.timeout(farm.connect_timeout_s):
                    reader, writer = await asyncio.open_connection(farm.host, farm.port)
            except (OSError, TimeoutError) as exc:
                # the first failure of a run is said once; the retries only at DEBUG
                level = logging.INFO if backoff_s == farm.reconnect_min_s else logging.DEBUG
                log.log(level, "%s: cannot connect to %s:%s: %s (retrying until it answers)",
                        self.serial, farm.host, farm.port, exc)
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
                with contextlib.suppress(OSError):
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
