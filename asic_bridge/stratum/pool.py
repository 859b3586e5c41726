"""The pool's shared state, without I/O: configuration, sessions, extranonce1
allocation, the current job and the job policy, the event sink.

A transport (see :mod:`asic_bridge.stratum.server`) opens one session per connection with
:meth:`Pool.open_session`, feeds it lines, and closes it with :meth:`Pool.close_session`.
Experiment code changes difficulty with :meth:`Pool.set_difficulty` and pushes jobs with
:meth:`Pool.new_job` (from the event-loop thread; the server wraps both thread-safely).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from asic_bridge.errors import PoolError, UnknownSession
from asic_bridge.events import Event
from asic_bridge.stratum.jobs import Job, JobSource
from asic_bridge.stratum.messages import encode_notification
from asic_bridge.stratum.methods import Submit
from asic_bridge.stratum.rejects import ErrorStyle
from asic_bridge.stratum.session import ServerSession
from asic_bridge.stratum.shares import ShareCheck
from asic_bridge.stratum.vardiff import VarDiffConfig

EventSink = Callable[[Event], None]
"""Receives every event (e.g. ``CaptureWriter.write``); must not block for long. An
exception from it means the event was not recorded: the pool answers the share with an
error naming the cause (see :meth:`Pool.emit`)."""

ShareHook = Callable[[ServerSession, Submit, ShareCheck, Job], None]
"""Called after each checked share of a known job (proxy mode forwards from here)."""


class JobPolicy(StrEnum):
    """NORMAL: new jobs on a timer or on demand, shared by all sessions. ONE_IN_FLIGHT:
    each session gets a fresh job after each of its submits (and only then).
    LATENCY_HIDING: like NORMAL, but the timer's next job is sent ``prefetch_lead_s``
    before the rotation with clean_jobs=false and the older jobs expire at the rotation
    (see :mod:`asic_bridge.stratum.prefetch`)."""

    NORMAL = "normal"
    ONE_IN_FLIGHT = "one-in-flight"
    LATENCY_HIDING = "latency-hiding"


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Pool settings. Times in seconds; sizes in bytes. ``users`` None means open
    authorization; ``job_interval_s`` None means jobs only on demand.
    ``max_shares_per_job``: accepted shares remembered per job and session for the
    duplicate check (about 100 bytes each); past it the job's shares are answered stale
    and the session gets a new job."""

    difficulty: float = 1.0
    min_difficulty: float = 1e-6
    extranonce1_size: int = 4
    extranonce2_size: int = 4
    extranonce1_prefix: bytes = b""
    version_mask: int = 0x1FFFE000
    users: dict[str, str] | None = None
    policy: JobPolicy = JobPolicy.NORMAL
    job_interval_s: float | None = 30.0
    job_history: int = 8
    error_style: ErrorStyle = ErrorStyle.PUBLIC_POOL
    honor_suggested_difficulty: bool = False
    vardiff: VarDiffConfig | None = None
    max_bad_lines: int = 16
    max_shares_per_job: int = 16_384
    handshake_timeout_s: float = 30.0
    idle_timeout_s: float | None = 900.0
    max_write_buffer_bytes: int = 1 << 20
    prefetch_lead_s: float = 2.0
    """LATENCY_HIDING: seconds before the rotation at which the next job is announced."""

    def __post_init__(self) -> None:
        if not self.difficulty >= self.min_difficulty > 0:
            raise ValueError(
                f"difficulty {self.difficulty} must be >= min_difficulty {self.min_difficulty} > 0"
            )
        free = self.extranonce1_size - len(self.extranonce1_prefix)
        if not 1 <= free <= 8:
            raise ValueError("extranonce1_size minus the prefix length must be 1..8 bytes")
        if not 1 <= self.extranonce2_size <= 16:
            raise ValueError(f"extranonce2_size must be 1..16 bytes, got {self.extranonce2_size}")
        if self.job_history < 1:
            raise ValueError("job_history must be >= 1")
        if self.max_shares_per_job < 1:
            raise ValueError("max_shares_per_job must be >= 1")
        if self.policy is JobPolicy.LATENCY_HIDING and self.job_interval_s is not None and not (
            0 <= self.prefetch_lead_s < self.job_interval_s
        ):
            raise ValueError(
                f"prefetch_lead_s {self.prefetch_lead_s} must be in [0, job_interval_s "
                f"{self.job_interval_s})"
            )


class Pool:
    """Sessions and jobs of one pool (see the module docstring). ``seed`` makes the
    extranonce1 sequence reproducible. ``congested`` (e.g.
    ``CaptureWriter.is_congested``) returns True while the sink wants no more events for
    now: the server then stops reading from its connections until it turns false.
    ``log`` takes one-line messages (a sink failing, and recovering)."""

    def __init__(
        self,
        config: PoolConfig,
        *,
        job_source: JobSource,
        sink: EventSink | None = None,
        on_share: ShareHook | None = None,
        seed: int | None = None,
        congested: Callable[[], bool] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.job_source = job_source
        self.sink = sink
        self.on_share = on_share
        self.congested = congested
        self.log = log
        self.sink_error: str | None = None
        """Why the last event could not be recorded (None while the sink works)."""
        self.sessions: dict[int, ServerSession] = {}
        self.current_job: Job | None = None
        self.default_difficulty = config.difficulty
        self._ids = itertools.count(1)
        self._job_ids = itertools.count(1)
        self._by_en1: set[bytes] = set()
        self._en1_free = config.extranonce1_size - len(config.extranonce1_prefix)
        self._en1_next = random.Random(seed).randrange(1 << (8 * self._en1_free))

    @property
    def one_in_flight(self) -> bool:
        return self.config.policy is JobPolicy.ONE_IN_FLIGHT

    def emit(self, event: Event) -> bool:
        """Hand an event to the sink (if any); False if the sink raised (the cause is in
        :attr:`sink_error`, logged once per failure). Never raises: a full disk must not
        close every miner or stop the job timer."""
        if self.sink is None:
            return True
        try:
            self.sink(event)
        except Exception as exc:
            cause = str(exc) or type(exc).__name__
            if self.sink_error != cause and self.log is not None:
                self.log(f"cannot record events: {cause}; answering shares with an error")
            self.sink_error = cause
            return False
        if self.sink_error is not None:
            if self.log is not None:
                self.log("recording events again")
            self.sink_error = None
        return True

    def share_checked(
        self, session: ServerSession, submit: Submit, check: ShareCheck, job: Job
    ) -> None:
        if self.on_share is not None:
            self.on_share(session, submit, check, job)

    # --- sessions -------------------------------------------------------------------------

    def open_session(self, write: Callable[[bytes], None], *, peer: str = "") -> ServerSession:
        """A new session with a unique extranonce1; ``write`` takes its outgoing bytes."""
        space = 1 << (8 * self._en1_free)
        if len(self._by_en1) >= space:
            raise PoolError(f"extranonce1 space exhausted: {len(self._by_en1)} sessions open; "
                            "raise extranonce1_size or close sessions")
        while True:
            value = self._en1_next % space
            self._en1_next = value + 1
            en1 = self.config.extranonce1_prefix + value.to_bytes(self._en1_free, "big")
            if en1 not in self._by_en1:
                break
        self._by_en1.add(en1)
        session = ServerSession(self, next(self._ids), en1, write, peer=peer)
        self.sessions[session.session_id] = session
        return session

    def close_session(self, session: ServerSession) -> None:
        """Forget a session (idempotent)."""
        if self.sessions.pop(session.session_id, None) is not None:
            self._by_en1.discard(session.extranonce1)

    # --- jobs and difficulty --------------------------------------------------------------

    def make_job(self) -> Job:
        """A new job from the job source with a fresh pool-unique id (not broadcast)."""
        return self.job_source.make_job(f"{next(self._job_ids):x}")

    def new_job(self, *, clean: bool = True) -> Job:
        """Make a job and send it to every started session (NORMAL policy); in
        ONE_IN_FLIGHT it only becomes the template for sessions that start later."""
        job = self.make_job()
        if job.clean != clean:
            job = job.with_id(job.job_id, clean=clean)
        self.publish(job)
        return job

    def publish(self, job: Job) -> None:
        """Make ``job`` current and send it to every started session (not in
        ONE_IN_FLIGHT, where each session runs on its own jobs)."""
        self.current_job = job
        if self.one_in_flight:
            return
        line = encode_notification("mining.notify", job.notify_params())
        for session in list(self.sessions.values()):
            session.send_job(job, line)

    def set_difficulty(self, difficulty: float, session_id: int | None = None) -> None:
        """Set one session's difficulty, or every session's and the default for new ones."""
        if not difficulty >= self.config.min_difficulty:
            raise ValueError(
                f"difficulty {difficulty!r} below min_difficulty {self.config.min_difficulty}"
            )
        if session_id is not None:
            session = self.sessions.get(session_id)
            if session is None:
                raise UnknownSession(f"no open session {session_id}")
            session.set_difficulty(difficulty)
            return
        self.default_difficulty = float(difficulty)
        for session in list(self.sessions.values()):
            session.set_difficulty(difficulty)
