"""A farm of emulated Stratum miners sharing one pool of hashing processes, and
:func:`run_stratum_miners` behind ``hashrc emulate --stratum``."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

from asic_bridge.aio import ServiceThread, cancel_and_wait
from emulator import EMULATOR_VERSION
from emulator.live import LiveEmulator
from emulator.miner_connection import EmulatedStratumMiner, _Pending
from emulator.miner_stats import FarmStats
from emulator.mining import HASHES_PER_DIFFICULTY, HashWorkers, WorkResult
from emulator.profiles import profile_for

log = logging.getLogger("hashrc.emulator.stratum")


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
    * ``warn_interval_s``: at most one starvation warning per interval;
    * ``connect_timeout_s``, ``reconnect_min_s``, ``reconnect_max_s``: like firmware, a
      miner whose pool does not answer retries for ever, with a backoff doubling from
      ``reconnect_min_s`` to ``reconnect_max_s`` (so it does not matter which starts
      first, the pool or the miner);
    * ``lives``: one running :class:`~emulator.live.LiveEmulator` per miner to use
      instead of a fresh one (``hashrc emulate --http --stratum``: the miner and the API
      face are the same device); their serials name the miners; their owner starts and
      closes them.

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
        lives: Sequence[LiveEmulator] | None = None,
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
        if lives is not None and len(lives) != count:
            raise ValueError(f"{len(lives)} live models given for {count} miners")
        self._lives = list(lives) if lives is not None else None
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
            serial = (f"{self.serial_prefix}-{i + 1:04d}" if self._lives is None
                      else self._lives[i].device.info.serial)
            self.miners.append(EmulatedStratumMiner(
                self, model=self.model, serial=serial, seed=self.seed + i,
                user=f"{self.user}.{serial}", password=self.password,
                suggest_difficulty=self.suggest_difficulty,
                live=None if self._lives is None else self._lives[i],
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
    lives: Sequence[LiveEmulator] | None = None,
    reconnect_max_s: float = 30.0,
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
        suggest_difficulty=suggest_difficulty, lives=lives, reconnect_max_s=reconnect_max_s,
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
