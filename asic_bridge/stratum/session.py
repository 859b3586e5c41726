"""One miner's connection as a state machine: lines in, lines and events out. No I/O.

A :class:`ServerSession` is created by :meth:`asic_bridge.stratum.pool.Pool.open_session`
with a ``write`` callable that takes outgoing bytes. The transport feeds it complete
lines (:meth:`ServerSession.handle_line`) with the receive time of their bytes; the
session answers through ``write`` and reports every share and job sent to the pool's
event sink. After a fatal error ``close_reason`` is set and the transport must close.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from asic_bridge.errors import PoolError, ProtocolError
from asic_bridge.events import ControlEvent, JobEvent, ShareEvent, ShareOutcome, TimestampSource
from asic_bridge.hashing import target_of_difficulty
from asic_bridge.stratum import methods
from asic_bridge.stratum.jobs import Job
from asic_bridge.stratum.messages import (
    JsonId,
    Notification,
    Request,
    Response,
    encode_notification,
    encode_response,
    encode_true,
    parse_message,
)
from asic_bridge.stratum.rejects import (
    NOT_SUBSCRIBED,
    OTHER,
    UNAUTHORIZED,
    error_line,
    reject_line,
)
from asic_bridge.stratum.shares import DuplicateKey, ShareCheck, check_share, duplicate_key
from asic_bridge.stratum.vardiff import VarDiff

if TYPE_CHECKING:
    from asic_bridge.stratum.pool import Pool

SET_DIFFICULTY = "mining.set_difficulty"


@lru_cache(maxsize=256)
def _target(difficulty: float) -> int:
    return target_of_difficulty(difficulty)


def _discard(data: bytes) -> None:
    """The ``write`` of a detached session."""


@dataclass(slots=True)
class JobSlot:
    """A job as sent to one session: the difficulty in force when it was sent, whether a
    later clean job made it stale, and the keys of the shares accepted for it (bounded
    by ``PoolConfig.max_shares_per_job``)."""

    job: Job
    difficulty: float
    stale: bool = False
    seen: set[DuplicateKey] = field(default_factory=set)


class ServerSession:
    """The pool side of one connection (see the module docstring)."""

    def __init__(
        self,
        pool: Pool,
        session_id: int,
        extranonce1: bytes,
        write: Callable[[bytes], None],
        *,
        peer: str = "",
    ) -> None:
        self.pool = pool
        self.session_id = session_id
        self.extranonce1 = extranonce1
        self.peer = peer
        self._write = write
        self.subscribed = False
        self.authorized = False
        self.started = False
        self.user: str | None = None
        self.agent: str | None = None
        self.version_mask = 0  # until mining.configure negotiates one
        self.difficulty = pool.default_difficulty
        self.jobs: dict[str, JobSlot] = {}
        self.bad_lines = 0
        self.close_reason: str | None = None
        self.shares = 0
        self.accepted = 0
        self._vardiff: VarDiff | None = None
        self.device = extranonce1.hex()

    # --- inbound ----------------------------------------------------------------------

    def handle_line(
        self,
        line: bytes,
        *,
        t_ns: int | None = None,
        t_source: TimestampSource = TimestampSource.USERSPACE,
        t_parse_mono_ns: int | None = None,
    ) -> None:
        """Handle one complete line. ``t_ns``: receive time of its bytes in ns since the
        epoch (default: now); ``t_parse_mono_ns``: monotonic ns when parsing began."""
        if t_parse_mono_ns is None:
            t_parse_mono_ns = time.monotonic_ns()
        if t_ns is None:
            t_ns = time.time_ns()
            t_source = TimestampSource.USERSPACE
        try:
            message = parse_message(line)
        except ProtocolError as exc:
            self._bad_line(None, str(exc))
            return
        if isinstance(message, Response):
            return  # answers to our own calls carry nothing we need
        msg_id = message.id if isinstance(message, Request) else None
        self._dispatch(message, msg_id, t_ns, t_source, t_parse_mono_ns)

    def protocol_error(self, exc: ProtocolError) -> None:
        """A fatal framing error from the transport (e.g. an over-long line): answer, close."""
        self._send(error_line(None, OTHER, str(exc)))
        self.close_reason = str(exc)

    def _dispatch(
        self,
        message: Request | Notification,
        msg_id: JsonId,
        t_ns: int,
        t_source: TimestampSource,
        t_parse: int,
    ) -> None:
        method = message.method
        params = message.params
        try:
            if method == "mining.submit":
                self._submit(msg_id, params, t_ns, t_source, t_parse)
            elif method == "mining.subscribe":
                self._subscribe(msg_id, params)
            elif method == "mining.authorize":
                self._authorize(msg_id, params)
            elif method == "mining.configure":
                self._configure(msg_id, params)
            elif method.startswith(methods.SUGGEST_DIFFICULTY):
                self._suggest_difficulty(msg_id, method, params)
            elif method == "mining.extranonce.subscribe":
                self._send(encode_true(msg_id))
            elif method == "mining.ping":
                self._send(encode_response(msg_id, "pong"))
            elif method == "mining.get_transactions":
                self._send(encode_response(msg_id, []))
            else:
                self._bad_line(msg_id, f"unknown method {method[:60]!r}")
        except ProtocolError as exc:
            self._bad_line(msg_id, str(exc))

    def _bad_line(self, msg_id: JsonId, text: str, code: int = OTHER) -> None:
        self._send(error_line(msg_id, code, text))
        self._count_bad(text)

    def _count_bad(self, text: str) -> None:
        """Count a line the peer should not have sent; too many close the session."""
        self.bad_lines += 1
        if self.bad_lines >= self.pool.config.max_bad_lines:
            self.close_reason = f"{self.bad_lines} bad lines, last: {text}"

    # --- methods ------------------------------------------------------------------------

    def _configure(self, msg_id: JsonId, params: list[Any]) -> None:
        extensions, options = methods.parse_configure(params)
        result: dict[str, Any] = {}
        for ext in extensions:
            if ext == "version-rolling":
                requested = options.get("version-rolling.mask", "ffffffff")
                mask = methods.parse_version_mask("mining.configure", requested)
                self.version_mask = mask & self.pool.config.version_mask
                result["version-rolling"] = True
                result["version-rolling.mask"] = f"{self.version_mask:08x}"
            elif ext == "subscribe-extranonce":
                result[ext] = True
            else:
                result[ext] = False
        self._send(encode_response(msg_id, result))

    def _subscribe(self, msg_id: JsonId, params: list[Any]) -> None:
        self.agent, _ = methods.parse_subscribe(params)
        sid = f"{self.session_id:08x}"
        result = [
            [[SET_DIFFICULTY, sid], ["mining.notify", sid]],
            self.extranonce1.hex(),
            self.pool.config.extranonce2_size,
        ]
        self.subscribed = True
        self._send(encode_response(msg_id, result))
        self._maybe_start()

    def _authorize(self, msg_id: JsonId, params: list[Any]) -> None:
        user, password = methods.parse_authorize(params)
        users = self.pool.config.users
        if users is not None and users.get(user) != password:
            self._send(encode_response(msg_id, False, [UNAUTHORIZED, "Unauthorized worker", None]))
            self._count_bad(f"authorization refused for user {user[:40]!r}")
            return
        self.user = user
        self.authorized = True
        self.device = f"{user}/{self.extranonce1.hex()}"
        self._send(encode_true(msg_id))
        self._maybe_start()

    def _suggest_difficulty(self, msg_id: JsonId, method: str, params: list[Any]) -> None:
        suggested = methods.parse_suggest_difficulty(method, params)
        self._send(encode_true(msg_id))
        if self.pool.config.honor_suggested_difficulty:
            self.set_difficulty(max(suggested, self.pool.config.min_difficulty))

    def _submit(
        self, msg_id: JsonId, params: list[Any], t_ns: int, t_source: TimestampSource, t_parse: int
    ) -> None:
        style = self.pool.config.error_style
        if not (self.subscribed and self.authorized):
            code, text = (
                (NOT_SUBSCRIBED, "Not subscribed")
                if not self.subscribed
                else (UNAUTHORIZED, "Unauthorized worker")
            )
            self._record_malformed(params, t_ns, t_source, t_parse, ShareOutcome.UNAUTHORIZED)
            self._bad_line(msg_id, text, code)
            return
        try:
            submit = methods.parse_submit(params)
        except ProtocolError as exc:
            self._record_malformed(params, t_ns, t_source, t_parse)
            self._send(reject_line(msg_id, ShareOutcome.MALFORMED, style, str(exc)))
            self._count_bad(str(exc))
            return
        pool = self.pool
        slot = self.jobs.get(submit.job_id)
        bits = submit.version_bits or 0
        if slot is None:
            check = ShareCheck(
                ShareOutcome.UNKNOWN_JOB, 0.0, 0, f"unknown job {submit.job_id[:40]!r}"
            )
            difficulty = self.difficulty
        else:
            difficulty = min(slot.difficulty, self.difficulty)
            check = check_share(
                slot.job,
                submit,
                extranonce1=self.extranonce1,
                extranonce2_size=self.pool.config.extranonce2_size,
                version_mask=self.version_mask,
                target=_target(difficulty),
                stale=slot.stale,
                seen=slot.seen,
                seen_limit=pool.config.max_shares_per_job,
            )
        accepted = check.outcome is ShareOutcome.ACCEPTED
        self.shares += 1
        recorded = pool.emit(
            ShareEvent(
                t_ns=t_ns,
                device=self.device,
                job_id=submit.job_id,
                nonce=submit.nonce,
                difficulty=difficulty,
                share_difficulty=check.share_difficulty,
                outcome=check.outcome,
                version_bits=bits,
                t_source=t_source,
                t_parse_mono_ns=t_parse,
            )
        )
        if recorded:  # queued for the capture before the miner hears "accepted"
            self._send(
                encode_true(msg_id)
                if accepted
                else reject_line(msg_id, check.outcome, style, check.message)
            )
        else:  # nothing stored: say why; the miner may send it again once it can be
            if accepted and slot is not None:
                slot.seen.discard(duplicate_key(submit))
            accepted = False
            self._send(error_line(msg_id, OTHER, f"cannot record shares: {pool.sink_error}"))
        if slot is not None:
            pool.share_checked(self, submit, check, slot.job)
        if accepted:
            self.accepted += 1
            if self._vardiff is not None:
                new = self._vardiff.on_share(difficulty, time.monotonic())
                if new is not None:
                    self.set_difficulty(new)
        if pool.one_in_flight and self.started:
            self.send_job(pool.make_job())
        elif (
            slot is not None
            and len(slot.seen) >= pool.config.max_shares_per_job
            and next(reversed(self.jobs)) == submit.job_id
        ):
            self._job_full()

    def _job_full(self) -> None:
        """The newest job of this session holds as many accepted shares as the duplicate
        check keeps: send this session a fresh job (its later shares for the full one
        are answered stale). A pool without its own jobs (a proxy) waits for upstream."""
        try:
            job = self.pool.make_job()
        except PoolError:  # a proxy's jobs come from upstream
            return
        self.send_job(job)

    def _record_malformed(
        self, params: list[Any], t_ns: int, t_source: TimestampSource, t_parse: int,
        outcome: ShareOutcome = ShareOutcome.MALFORMED,
    ) -> None:
        """Record a submit that could not be judged as a share (bad params, or sent
        before the session was subscribed and authorized)."""
        job_id = params[1] if len(params) > 1 and isinstance(params[1], str) else ""
        nonce = 0
        if len(params) > 4 and isinstance(params[4], str):
            try:
                nonce = int(params[4][:8], 16)
            except ValueError:
                nonce = 0
        self.pool.emit(
            ShareEvent(
                t_ns=t_ns,
                device=self.device,
                job_id=job_id[:64],
                nonce=nonce,
                difficulty=self.difficulty,
                share_difficulty=0.0,
                outcome=outcome,
                t_source=t_source,
                t_parse_mono_ns=t_parse,
            )
        )

    # --- outbound -------------------------------------------------------------------------

    def _maybe_start(self) -> None:
        if self.started or not (self.subscribed and self.authorized):
            return
        self.started = True
        cfg = self.pool.config
        if cfg.vardiff is not None:
            self._vardiff = VarDiff(cfg.vardiff, now_s=time.monotonic())
        self._send(encode_notification(SET_DIFFICULTY, [self.difficulty]))
        job = self.pool.make_job() if self.pool.one_in_flight else self.pool.current_job
        if job is not None:
            self.send_job(job)

    def set_difficulty(self, difficulty: float) -> None:
        """Change this session's difficulty now (sent at once if the session has started;
        otherwise used when it starts). Shares for jobs sent before the change are judged
        against the lower of the two difficulties."""
        if not difficulty > 0:
            raise ValueError(f"difficulty must be > 0, got {difficulty!r}")
        self.difficulty = float(difficulty)
        if self._vardiff is not None:
            self._vardiff.reset(time.monotonic())
        if self.started:
            self._send(encode_notification(SET_DIFFICULTY, [self.difficulty]))
            self.pool.emit(
                ControlEvent(
                    t_ns=time.time_ns(),
                    device=self.device,
                    knob="difficulty",
                    value=self.difficulty,
                    unit="1",
                    requested=float(difficulty),
                )
            )

    def send_job(self, job: Job, line: bytes | None = None) -> None:
        """Send a job (``line``: its pre-encoded notify, shared between sessions)."""
        if not self.started:
            return
        if job.clean:
            for slot in self.jobs.values():
                slot.stale = True
        self.jobs[job.job_id] = JobSlot(job, self.difficulty)
        while len(self.jobs) > self.pool.config.job_history:
            del self.jobs[next(iter(self.jobs))]
        self._send(
            line if line is not None else encode_notification("mining.notify", job.notify_params())
        )
        self.pool.emit(
            JobEvent(
                t_ns=time.time_ns(),
                device=self.device,
                job_id=job.job_id,
                difficulty=self.difficulty,
                clean=job.clean,
            )
        )

    def detach(self) -> None:
        """The transport closed: drop the reference to its ``write`` (so a closed session
        and its connection do not keep each other alive) and send nothing more."""
        if self.close_reason is None:
            self.close_reason = "closed"
        self._write = _discard

    def send_raw(self, line: bytes) -> None:
        """Send an already-encoded line (e.g. ``client.show_message``)."""
        self._send(line)

    def _send(self, data: bytes) -> None:
        if self.close_reason is None:
            self._write(data)
