"""Proxy mode: a pool server for local miners whose jobs come from an upstream pool.

The proxy subscribes upstream (as a :class:`~asic_bridge.stratum.client.ClientSession`),
then serves downstream miners with the upstream jobs, each miner getting a slice of the
upstream extranonce2 space: downstream extranonce1 = upstream extranonce1 || a per-session
prefix of ``prefix_bytes``, so a downstream share's coinbase is exactly an upstream one.
Every downstream share is checked and recorded as usual (at the local difficulty); those
that also meet the upstream difficulty are submitted upstream, and the upstream verdict
is recorded as a ShareEvent with ``device="upstream/<user>"``. Upstream jobs are
recorded as JobEvents of that device.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from asic_bridge.errors import DeviceError, PoolError, ProtocolError
from asic_bridge.events import JobEvent, ShareEvent, ShareOutcome, TimestampSource
from asic_bridge.stratum.client import (
    Authorized,
    ClientSession,
    NewDifficulty,
    NewJob,
    ShareResult,
    Subscribed,
)
from asic_bridge.stratum.jobs import Job
from asic_bridge.stratum.messages import LineSplitter
from asic_bridge.stratum.methods import Submit
from asic_bridge.stratum.pool import EventSink, JobPolicy, Pool, PoolConfig
from asic_bridge.stratum.server import ServiceThread, StratumServer
from asic_bridge.stratum.session import ServerSession
from asic_bridge.stratum.shares import ShareCheck

_MAX_PENDING = 4096
"""Forwarded shares awaiting the upstream pool's answer, at most."""


class _UpstreamJobs:
    """Job source of a proxy: jobs only come from upstream."""

    def make_job(self, job_id: str) -> Job:
        raise PoolError("in proxy mode jobs come from the upstream pool")


@dataclass(frozen=True, slots=True)
class _Forwarded:
    job_id: str
    nonce: int
    version_bits: int
    share_difficulty: float


class StratumProxy:
    """Downstream pool server + upstream client (see the module docstring).

    ``config`` sets the downstream pool (difficulty, error style...); its extranonce
    fields are replaced from the upstream subscription. ``connect_timeout_s`` bounds the
    upstream handshake (seconds).
    """

    def __init__(
        self,
        *,
        upstream: tuple[str, int],
        user: str,
        password: str = "x",
        config: PoolConfig | None = None,
        sink: EventSink | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix_bytes: int | None = None,
        connect_timeout_s: float = 10.0,
        kernel_timestamps: bool = True,
        congested: Callable[[], bool] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.congested = congested
        self.log = log
        self.client = ClientSession(user=user, password=password, agent="hashrc-proxy")
        self.config = config or PoolConfig()
        if self.config.policy is not JobPolicy.NORMAL:
            raise ValueError("proxy mode supports the normal job policy only")
        self.sink = sink
        self.host = host
        self.port = port
        self.prefix_bytes = prefix_bytes
        self.connect_timeout_s = connect_timeout_s
        self.kernel_timestamps = kernel_timestamps
        self.device = f"upstream/{user}"
        self.server: StratumServer | None = None
        self.pool: Pool | None = None
        self.forwarded = 0
        self.upstream_accepted = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._pending: dict[int, _Forwarded] = {}
        self._splitter = LineSplitter()

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None, "proxy not started"
        return self.server.address

    async def start(self) -> None:
        """Connect and subscribe upstream, then listen downstream."""
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(*self.upstream), self.connect_timeout_s
        )
        self._writer.write(self.client.handshake())
        subscribed: Subscribed | None = None
        authorized = False
        first_job: Job | None = None
        deadline = time.monotonic() + self.connect_timeout_s
        while subscribed is None or not authorized or first_job is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceError("upstream pool did not complete the handshake in time")
            for event in await asyncio.wait_for(self._read_events(), remaining):
                if isinstance(event, Subscribed):
                    subscribed = event
                elif isinstance(event, Authorized):
                    if not event.ok:
                        raise DeviceError(f"upstream refused authorization: {event.error}")
                    authorized = True
                elif isinstance(event, NewJob):
                    first_job = event.job
        self.pool = Pool(
            self._downstream_config(subscribed),
            job_source=_UpstreamJobs(),
            sink=self.sink,
            on_share=self._forward,
            congested=self.congested,
            log=self.log,
        )
        self.server = StratumServer(
            self.pool,
            host=self.host,
            port=self.port,
            kernel_timestamps=self.kernel_timestamps,
            publish_first_job=False,
        )
        await self.server.start()
        self._publish(first_job)
        self._pump_task = asyncio.create_task(self._pump())

    def _downstream_config(self, sub: Subscribed) -> PoolConfig:
        space = sub.extranonce2_size
        prefix = (
            self.prefix_bytes
            if self.prefix_bytes is not None
            else (space // 2 if space >= 4 else 1)
        )
        if not 1 <= prefix < space:
            raise DeviceError(
                f"upstream extranonce2 of {space} bytes leaves no room for {prefix} bytes"
            )
        return replace(
            self.config,
            extranonce1_prefix=sub.extranonce1,
            extranonce1_size=len(sub.extranonce1) + prefix,
            extranonce2_size=space - prefix,
            version_mask=self.config.version_mask & (self.client.version_mask or 0),
            job_interval_s=None,
        )

    async def _read_events(self) -> list[Any]:
        assert self._reader is not None and self._writer is not None
        data = await self._reader.read(65536)
        if not data:
            raise DeviceError("upstream pool closed the connection")
        events: list[Any] = []
        for line in self._splitter.feed(data):
            try:
                got, reply = self.client.feed_line(line)
            except ProtocolError:
                continue  # one bad upstream line must not take the proxy down
            if reply:
                self._writer.write(reply)
            events.extend(got)
        return events

    async def _pump(self) -> None:
        with contextlib.suppress(DeviceError, ConnectionError):
            while True:
                for event in await self._read_events():
                    if isinstance(event, NewJob):
                        self._publish(event.job)
                    elif isinstance(event, ShareResult):
                        self._record_result(event)
                    elif isinstance(event, NewDifficulty):
                        pass  # client.difficulty is read at forwarding time

    def _publish(self, job: Job) -> None:
        assert self.pool is not None
        self.pool.publish(job)
        self._emit(
            JobEvent(
                t_ns=time.time_ns(),
                device=self.device,
                job_id=job.job_id,
                difficulty=self.client.difficulty,
                clean=job.clean,
            )
        )

    def _forward(self, session: ServerSession, submit: Submit, check: ShareCheck, job: Job) -> None:
        if check.outcome is not ShareOutcome.ACCEPTED or self._writer is None:
            return
        if check.share_difficulty < self.client.difficulty:
            return
        en1_up = self.client.extranonce1 or b""
        extranonce2 = session.extranonce1[len(en1_up) :] + submit.extranonce2
        msg_id, line = self.client.submit(
            submit.job_id, extranonce2, submit.ntime, submit.nonce, submit.version_bits
        )
        self._pending[msg_id] = _Forwarded(
            submit.job_id, submit.nonce, submit.version_bits or 0, check.share_difficulty
        )
        self._writer.write(line)
        self.forwarded += 1
        while len(self._pending) > _MAX_PENDING:  # upstream never answers: forget the oldest
            del self._pending[next(iter(self._pending))]

    def _record_result(self, result: ShareResult) -> None:
        sent = self._pending.pop(result.msg_id, None)
        if sent is None:
            return
        if result.outcome is ShareOutcome.ACCEPTED:
            self.upstream_accepted += 1
        self._emit(
            ShareEvent(
                t_ns=time.time_ns(),
                device=self.device,
                job_id=sent.job_id,
                nonce=sent.nonce,
                difficulty=self.client.difficulty,
                share_difficulty=sent.share_difficulty,
                outcome=result.outcome,
                version_bits=sent.version_bits,
                t_source=TimestampSource.USERSPACE,
                t_parse_mono_ns=time.monotonic_ns(),
            )
        )

    def _emit(self, event: Any) -> None:
        if self.pool is not None:
            self.pool.emit(event)  # a failing sink is logged there, never raised here
        elif self.sink is not None:
            self.sink(event)

    async def close(self) -> None:
        """Close downstream and upstream (idempotent)."""
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        if self.server is not None:
            await self.server.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
            self._writer = None

    def stats(self) -> dict[str, int]:
        """Counts: shares forwarded upstream and accepted there (any thread, approximate)."""
        return {"forwarded": self.forwarded, "upstream_accepted": self.upstream_accepted}


class ProxyThread(ServiceThread):
    """A :class:`StratumProxy` in a background thread; keyword arguments go to it."""

    def __init__(self, **proxy_kwargs: Any) -> None:
        self.proxy = StratumProxy(**proxy_kwargs)
        super().__init__(self.proxy, name="stratum-proxy")
