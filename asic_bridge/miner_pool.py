"""The Stratum pool that one device's miner mines on, owned by that device.

A device opened with ``?stratum=LISTEN_HOST:PORT`` (``axeos://``, ``cgminer://``,
``goldshell://``) starts a :class:`MinerPool`: the hashrc Stratum server
(:mod:`asic_bridge.stratum`, synthetic jobs) listening there, whose events are filtered
and relabelled before they enter the device's stream:

* only the device's **miner** counts: the sessions of the first user that authorises
  (or of ``worker`` when given); a miner that reconnects (a firmware restart after a
  clock change) keeps being the miner because its user name is the same. Shares and jobs
  of other sessions are counted (:attr:`MinerPool.foreign_events`) and not recorded;
* shares and jobs carry the **device's identity** (the device URL's id), the same as its
  telemetry rows, so the two join;
* ``difficulty`` is applied per session of the miner with ``mining.set_difficulty`` and
  becomes the default for the miner's next session; the pool's own per-session control
  events are dropped, the device records **one** control event per change.
"""

from __future__ import annotations

import dataclasses
import errno
import threading
from collections.abc import Callable

from asic_bridge.errors import DeviceTimeout, MinerNotConnected, PoolError
from asic_bridge.events import ControlEvent, Event, JobEvent, ShareEvent

EventSink = Callable[[Event], None]

DEFAULT_CONNECT_TIMEOUT_S = 60.0
"""How long opening a device waits for its miner to connect and authorise, s (real
firmware retries its pool every few seconds; a restart takes 10-20 s)."""


def _user_of(session_device: str) -> str | None:
    """The user of a pool session's device label ``user/extranonce1`` (None before
    authorisation, when the label is the bare extranonce1)."""
    user, sep, _ = session_device.rpartition("/")
    return user if sep else None


class MinerPool:
    """A Stratum pool on ``listen`` whose miner's events go to ``sink`` as ``device_id``.

    ``difficulty``: initial share difficulty; ``min_difficulty``: the smallest accepted;
    ``lbry``: LBRY jobs (LB-Box); ``worker``: the miner's user name (None: the first
    that authorises); ``job_interval_s``: a new synthetic job this often, s;
    ``congested`` (e.g. the device's :meth:`~asic_bridge.device.Device.is_congested`):
    while it returns True the server stops reading from its miners (back-pressure).
    """

    def __init__(
        self,
        listen: tuple[str, int],
        *,
        device_id: str,
        sink: EventSink,
        difficulty: float,
        min_difficulty: float = 1e-6,
        lbry: bool = False,
        worker: str | None = None,
        job_interval_s: float = 30.0,
        congested: Callable[[], bool] | None = None,
    ) -> None:
        if not difficulty >= min_difficulty > 0:
            raise ValueError(f"difficulty {difficulty!r} must be >= {min_difficulty} > 0")
        self.listen = listen
        self.device_id = device_id
        self.worker = worker
        self.difficulty = float(difficulty)
        self.foreign_events = 0
        self.miner: str | None = worker
        self._sink = sink
        self._claimed = threading.Event()
        self._min_difficulty = min_difficulty
        self._lbry = lbry
        self._job_interval_s = job_interval_s
        self._congested = congested
        self._thread = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> MinerPool:
        """Listen; PoolError naming the address when that is impossible (port in use)."""
        from asic_bridge.stratum.jobs import SyntheticJobSource
        from asic_bridge.stratum.pool import Pool, PoolConfig
        from asic_bridge.stratum.server import ServerThread

        config = PoolConfig(difficulty=self.difficulty, min_difficulty=self._min_difficulty,
                            job_interval_s=self._job_interval_s)
        source = SyntheticJobSource(
            extranonce_size=config.extranonce1_size + config.extranonce2_size, lbry=self._lbry)
        pool = Pool(config, job_source=source, sink=self._on_event, congested=self._congested)
        host, port = self.listen
        thread = ServerThread(pool, host=host, port=port)
        try:
            thread.start()
        except OSError as exc:
            hint = (" (another pool or miner-side program listens there; choose another port)"
                    if exc.errno == errno.EADDRINUSE else "")
            raise PoolError(f"cannot listen for the miner on {host}:{port}: "
                            f"{exc.strerror or exc}{hint}") from None
        self._thread = thread
        return self

    @property
    def address(self) -> tuple[str, int]:
        """Where the pool listens (host, port); the real port when 0 was asked."""
        if self._thread is None:
            return self.listen
        return self._thread.server.address

    def close(self) -> None:
        """Stop the pool (idempotent)."""
        if self._thread is not None:
            self._thread.close()
            self._thread = None

    # -- the miner ---------------------------------------------------------------------------

    def wait_for_miner(self, timeout_s: float) -> str:
        """Block until the miner authorised and got its first job; its user name.
        MinerNotConnected after ``timeout_s`` seconds."""
        if not self._claimed.wait(timeout_s):
            host, port = self.address
            who = f"worker {self.worker!r}" if self.worker else "a miner"
            raise MinerNotConnected(
                f"{self.device_id}: {who} did not connect to the Stratum pool on "
                f"{host}:{port} within {timeout_s:g} s; point the miner at "
                f"stratum+tcp://{host}:{port} (or raise connect_timeout_s)")
        assert self.miner is not None
        return self.miner

    @property
    def connected(self) -> bool:
        """True once the miner authorised (it may have reconnected since)."""
        return self._claimed.is_set()

    def set_difficulty(self, difficulty: float) -> float:
        """Send ``mining.set_difficulty`` to each session of the miner now, and make it
        the difficulty of its next sessions; returns the difficulty applied."""
        if not difficulty >= self._min_difficulty:
            raise ValueError(f"difficulty {difficulty!r} below the pool's minimum "
                             f"{self._min_difficulty}")
        if self._thread is None:
            raise PoolError(f"{self.device_id}: the pool is not running")
        server = self._thread.server
        value = float(difficulty)

        def apply() -> None:
            pool = server.pool
            pool.default_difficulty = value
            for session in list(pool.sessions.values()):
                if self.miner is None or session.user == self.miner:
                    session.set_difficulty(value)

        try:
            server.call(apply, timeout_s=5.0)
        except TimeoutError:
            raise DeviceTimeout(f"{self.device_id}: the pool did not apply difficulty "
                                f"{value:g} within 5 s") from None
        except RuntimeError as exc:  # the server's loop is gone
            raise PoolError(f"{self.device_id}: the pool is not running ({exc})") from None
        self.difficulty = value
        return value

    def session_count(self) -> int:
        """Open sessions of the miner."""
        if self._thread is None:
            return 0
        return sum(1 for s in self._thread.server.sessions() if s.user == self.miner)

    # -- events (on the server's loop thread) -------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ControlEvent):
            return  # the device records one control event per change itself
        if not isinstance(event, ShareEvent | JobEvent):
            self._sink(event)
            return
        user = _user_of(event.device)
        if self.miner is None and user is not None and isinstance(event, JobEvent):
            self.miner = user  # first authorised session that started mining
        if user is None or user != self.miner:
            self.foreign_events += 1
            return
        if not self._claimed.is_set() and isinstance(event, JobEvent):
            self._claimed.set()
        self._sink(dataclasses.replace(event, device=self.device_id))
