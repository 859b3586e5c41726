"""asyncio Stratum pool server: a thin pump between sockets and the sans-IO pool.

Each connection is read with ``recvmsg`` from the event loop's selector (so the kernel's
receive timestamp of the bytes comes along, see :mod:`asic_bridge.stratum.rxtime`), cut
into lines, and handed to its :class:`~asic_bridge.stratum.session.ServerSession`.
Writes go straight to the socket; what the kernel does not take is buffered up to
``max_write_buffer_bytes`` and a client that lets it overflow is disconnected, so a
client that stops reading never blocks the others. Connections that never finish the
handshake, or fall silent, are closed after the configured timeouts. While the pool's
event sink is congested (``Pool.congested``, e.g. a capture writer behind a flood) a
connection that becomes readable is not read until the sink catches up, so its bytes wait
in the kernel and TCP slows the sender, instead of the queue growing. Out of file
descriptors, accepting pauses with a doubling backoff (0.05 s up to 1 s, logged) instead
of waking on the listener in a loop.

Use :class:`StratumServer` inside an event loop, or :class:`ServerThread` from
synchronous experiment code. Both are bound to ``127.0.0.1`` unless told otherwise, and
their control methods (:meth:`StratumServer.set_difficulty`, :meth:`~StratumServer.new_job`,
:meth:`~StratumServer.sessions`) are safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asic_bridge.aio import ServiceThread, cancel_and_wait
from asic_bridge.errors import DeviceTimeout, NotRunning, PoolError, ProtocolError
from asic_bridge.stratum.messages import LineSplitter
from asic_bridge.stratum.pool import Pool
from asic_bridge.stratum.rxtime import enable_rx_timestamps, recv_plain, recv_timestamped
from asic_bridge.stratum.session import ServerSession

T = TypeVar("T")

_READ_BYTES = 65536
_ACCEPTS_PER_WAKE = 64
_RESUME_POLL_S = 0.005
"""How often paused connections check whether the event sink took its backlog (s)."""
_ACCEPT_BACKOFF_S = (0.05, 1.0)
"""First and longest pause of accepts when the process is out of descriptors (s)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A snapshot of one session for experiment code."""

    session_id: int
    device: str
    peer: str
    extranonce1: str
    user: str | None
    difficulty: float
    started: bool
    shares: int
    accepted: int


class _Connection:
    """One accepted socket pumping bytes to and from its session."""

    __slots__ = (
        "_closed",
        "_corked",
        "_loop",
        "_out",
        "_reader",
        "_server",
        "_writing",
        "fd",
        "last_rx_s",
        "opened_s",
        "paused",
        "session",
        "sock",
        "splitter",
    )

    def __init__(
        self, server: StratumServer, sock: socket.socket, peer: str, kernel_ts: bool
    ) -> None:
        self._server = server
        self._loop = server.loop
        self.sock = sock
        self.fd = sock.fileno()
        self._out = bytearray()
        self._writing = False
        self._corked = False
        self._closed = False
        self.paused = False
        self.splitter = LineSplitter()
        self._reader = recv_timestamped if kernel_ts else recv_plain
        self.opened_s = self.last_rx_s = time.monotonic()
        self.session: ServerSession = server.pool.open_session(self.write, peer=peer)
        self._loop.add_reader(self.fd, self._on_readable)

    # reading -----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        congested = self._server.pool.congested
        if congested is not None and congested():
            self._server.pause(self)  # the sink is behind: leave the bytes in the kernel
            return
        try:
            data, t_ns, source = self._reader(self.sock, _READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        self.last_rx_s = time.monotonic()
        session = self.session
        try:
            lines = self.splitter.feed(data)
        except ProtocolError as exc:
            session.protocol_error(exc)
            self.close(flush=True)
            return
        self._corked = True
        try:
            monotonic_ns = time.monotonic_ns
            for line in lines:
                session.handle_line(
                    line, t_ns=t_ns, t_source=source, t_parse_mono_ns=monotonic_ns()
                )
                if session.close_reason is not None:
                    break
        except Exception as exc:  # a bug must cost this connection only, never the server
            self._server.log(f"session {session.session_id}: internal error: {exc!r}")
            session.close_reason = f"internal error: {exc!r}"
        finally:
            self._corked = False
        if session.close_reason is not None:
            self.close(flush=True)
        elif self._out:
            self._flush()

    # writing -----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes for the peer; overflowing the bound closes this connection."""
        if self._closed:
            return
        self._out += data
        if len(self._out) > self._server.pool.config.max_write_buffer_bytes:
            self.session.close_reason = "write buffer overflow: the client stopped reading"
            self._out.clear()
            if not self._corked:
                self.close()
            return
        if not self._corked and not self._writing:
            self._flush()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        del self._out[:sent]
        if self._out and not self._writing:
            self._writing = True
            self._loop.add_writer(self.fd, self._on_writable)
        elif not self._out and self._writing:
            self._writing = False
            self._loop.remove_writer(self.fd)

    def _on_writable(self) -> None:
        self._flush()

    def close(self, *, flush: bool = False) -> None:
        """Close the socket and forget the session (idempotent); ``flush`` tries once to
        send what is buffered (e.g. the error explaining the close)."""
        if self._closed:
            return
        if flush and self._out:
            with contextlib.suppress(OSError):
                self.sock.send(self._out)
        self._closed = True
        if not self.paused:
            self._loop.remove_reader(self.fd)
        if self._writing:
            self._loop.remove_writer(self.fd)
        self.sock.close()
        self._server.forget(self)
        self.session.detach()  # no session <-> connection cycle left for the GC

    def pause(self) -> None:
        """Stop reading (the peer's bytes wait in the kernel, then TCP holds it back)."""
        if not self.paused and not self._closed:
            self.paused = True
            self._loop.remove_reader(self.fd)

    def resume(self) -> None:
        if self.paused and not self._closed:
            self.paused = False
            self._loop.add_reader(self.fd, self._on_readable)


class StratumServer:
    """The pool server. ``pool`` holds configuration, jobs and the event sink.

    ``host``/``port``: where to listen (port 0 picks a free one; see :attr:`port`).
    ``kernel_timestamps``: use SO_TIMESTAMPNS where available (else userspace time).
    ``publish_first_job``: make a job at start (False when jobs come from elsewhere,
    as in proxy mode). ``log``: a callable taking one-line messages.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kernel_timestamps: bool = True,
        publish_first_job: bool = True,
        backlog: int = 2048,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self.host = host
        self.port = port
        self.kernel_timestamps = kernel_timestamps
        self.publish_first_job = publish_first_job
        self.backlog = backlog
        self._log = log
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._listener: socket.socket | None = None
        self._connections: dict[int, _Connection] = {}
        self._paused: dict[int, _Connection] = {}
        self._resume_handle: asyncio.TimerHandle | None = None
        self._accept_backoff_s = _ACCEPT_BACKOFF_S[0]
        self._accept_handle: asyncio.TimerHandle | None = None
        self.accept_pauses = 0
        """How often accepting was paused for lack of file descriptors."""
        self.read_pauses = 0
        """How often a connection stopped being read because the event sink was behind."""
        self._tasks: list[asyncio.Task[None]] = []
        self._loop_thread: int | None = None
        self.kernel_timestamps_active = False
        if pool.log is None and log is not None:
            pool.log = log

    def log(self, text: str) -> None:
        if self._log is not None:
            self._log(text)

    # lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, listen, start the job timer and the timeout sweeper."""
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(self.backlog)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        if self.publish_first_job and self.pool.current_job is None:
            self.pool.new_job()
        self.loop.add_reader(listener.fileno(), self._on_accept)
        self._tasks.append(asyncio.create_task(self._sweep()))
        interval = self.pool.config.job_interval_s
        if interval is not None and self.publish_first_job:
            self._tasks.append(asyncio.create_task(self._job_timer(interval)))

    async def close(self) -> None:
        """Stop listening and close every connection (idempotent)."""
        await cancel_and_wait(self._tasks)
        for handle in (self._resume_handle, self._accept_handle):
            if handle is not None:
                handle.cancel()
        self._resume_handle = self._accept_handle = None
        if self._listener is not None:
            if self._accepting:
                self.loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for conn in list(self._connections.values()):
            conn.close(flush=True)

    async def __aenter__(self) -> StratumServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def connection_count(self) -> int:
        """Open connections (any thread)."""
        return self.call(lambda: len(self._connections))

    def forget(self, conn: _Connection) -> None:
        self._connections.pop(conn.fd, None)
        self._paused.pop(conn.fd, None)
        self.pool.close_session(conn.session)

    # back-pressure from the event sink ------------------------------------------------

    def pause(self, conn: _Connection) -> None:
        """Stop reading ``conn`` until the pool's sink is no longer congested."""
        conn.pause()
        self._paused[conn.fd] = conn
        self.read_pauses += 1
        if self._resume_handle is None:
            self._resume_handle = self.loop.call_later(_RESUME_POLL_S, self._try_resume)

    def _try_resume(self) -> None:
        self._resume_handle = None
        congested = self.pool.congested
        if congested is not None and congested():
            self._resume_handle = self.loop.call_later(_RESUME_POLL_S, self._try_resume)
            return
        paused, self._paused = self._paused, {}
        for conn in paused.values():
            conn.resume()

    # accepting ---------------------------------------------------------------------------

    @property
    def _accepting(self) -> bool:
        return self._accept_handle is None

    def _pause_accepts(self, exc: OSError) -> None:
        """Out of descriptors (or kernel memory): stop watching the listener for a while
        instead of waking on it in a loop; the backoff doubles up to one second."""
        assert self._listener is not None
        delay = self._accept_backoff_s
        self.accept_pauses += 1
        self.log(f"accept: {exc.strerror or exc}; pausing new connections for {delay:.2f} s")
        self.loop.remove_reader(self._listener.fileno())
        self._accept_handle = self.loop.call_later(delay, self._resume_accepts)
        self._accept_backoff_s = min(2 * delay, _ACCEPT_BACKOFF_S[1])

    def _resume_accepts(self) -> None:
        self._accept_handle = None
        if self._listener is not None:
            self.loop.add_reader(self._listener.fileno(), self._on_accept)

    def _on_accept(self) -> None:
        assert self._listener is not None
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._pause_accepts(exc)
                else:  # e.g. ECONNABORTED: that peer is gone, the listener is fine
                    self.log(f"accept: {exc}")
                return
            self._accept_backoff_s = _ACCEPT_BACKOFF_S[0]
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            kernel_ts = self.kernel_timestamps and enable_rx_timestamps(sock)
            self.kernel_timestamps_active = self.kernel_timestamps_active or kernel_ts
            peer = f"{addr[0]}:{addr[1]}"
            try:
                conn = _Connection(self, sock, peer, kernel_ts)
            except PoolError as exc:  # e.g. extranonce1 space exhausted
                self.log(f"refusing {peer}: {exc}")
                sock.close()
                continue
            self._connections[conn.fd] = conn

    async def _job_timer(self, interval_s: float) -> None:
        if self.pool.config.policy == "latency-hiding":  # JobPolicy.LATENCY_HIDING
            from asic_bridge.stratum.prefetch import run_latency_hiding

            await run_latency_hiding(self.pool, interval_s, self.pool.config.prefetch_lead_s, self.log)
            return
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.pool.new_job()
            except Exception as exc:  # the timer must outlive any one failure
                self.log(f"job timer: {exc!r}")

    async def _sweep(self) -> None:
        cfg = self.pool.config
        timeouts = [t for t in (cfg.handshake_timeout_s, cfg.idle_timeout_s) if t is not None]
        period = min([1.0, *(t / 4 for t in timeouts)])
        while True:
            await asyncio.sleep(period)
            self._sweep_once(time.monotonic())

    def _sweep_once(self, now: float) -> None:
        """Close connections past their handshake or idle timeout. A function of its own
        so no loop variable keeps the last connection alive while the sweeper sleeps."""
        cfg = self.pool.config
        for conn in list(self._connections.values()):
            handshake_over = now - conn.opened_s > cfg.handshake_timeout_s
            idle = cfg.idle_timeout_s is not None and now - conn.last_rx_s > cfg.idle_timeout_s
            if (handshake_over and not conn.session.started) or idle:
                conn.close()

    # thread-safe control ---------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float = 10.0) -> T:
        """Run ``fn(*args)`` on the server's loop and return its result (any thread).
        NotRunning before start or after stop; DeviceTimeout (a TimeoutError) when the loop
        does not run it within ``timeout_s`` s."""
        if self.loop is None:
            raise NotRunning("the Stratum server is not running: start it first")
        if threading.get_ident() == self._loop_thread:
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop has closed
            raise NotRunning("the Stratum server has stopped") from None
        try:
            return future.result(timeout_s)
        except TimeoutError:
            if future.done():  # fn itself raised it
                raise
            raise DeviceTimeout(f"the Stratum server did not run the call within {timeout_s:g} s "
                                "(its loop is blocked or stopping)") from None

    def set_difficulty(self, difficulty: float, session_id: int | None = None) -> None:
        """Set one session's difficulty (``session_id`` from :meth:`sessions`) or all
        sessions' and the default for new ones. Sent to the miners at once."""
        self.call(self.pool.set_difficulty, difficulty, session_id)

    def new_job(self, *, clean: bool = True) -> str:
        """Publish a new job now; returns its id."""
        return self.call(lambda: self.pool.new_job(clean=clean).job_id)

    def sessions(self) -> list[SessionInfo]:
        """Snapshot of the connected sessions."""

        def snap() -> list[SessionInfo]:
            return [
                SessionInfo(
                    s.session_id,
                    s.device,
                    s.peer,
                    s.extranonce1.hex(),
                    s.user,
                    s.difficulty,
                    s.started,
                    s.shares,
                    s.accepted,
                )
                for s in self.pool.sessions.values()
            ]

        return self.call(snap)


class ServerThread(ServiceThread):
    """A :class:`StratumServer` in a background thread, for synchronous code:
    ``with ServerThread(pool, port=3333) as srv: srv.server.set_difficulty(1e-4)``.
    Keyword arguments go to :class:`StratumServer`.
    """

    def __init__(self, pool: Pool, **server_kwargs: Any) -> None:
        self.server = StratumServer(pool, **server_kwargs)
        super().__init__(self.server, name="stratum-server")
