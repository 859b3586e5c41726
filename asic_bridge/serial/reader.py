"""The receiving side of a chain link: one reader thread and a bounded register mailbox.

:class:`ReaderThread` pumps bytes from a :class:`~asic_bridge.serial.transport.
SerialTransport` through a :class:`~asic_bridge.serial.codec.ReplyStreamParser` and hands
each CRC-valid frame, stamped with ``time.time_ns()`` when the read that completed it
returned, to a callback; it calls ``tick`` about every ``read_timeout_s`` (watchdogs) and
``link_lost`` when the link fails (which reconnects or gives up). No protocol here.

:class:`RegisterMailbox` holds the register replies of the one read in progress: replies
that arrive when no read waits are counted (``unsolicited_registers``) and dropped, and
at most ``maxsize`` wait (``register_overflow``), so a chain (or a fault) flooding valid
register replies cannot grow the host's memory.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable

from asic_bridge.errors import DeviceError
from asic_bridge.serial.codec import RegisterReply, ReplyStreamParser
from asic_bridge.serial.transport import SerialTransport

DEFAULT_MAX_REGISTER_REPLIES = 1024
"""More than the 256 chips a chain can address answer one read-all."""


class RegisterMailbox:
    """Bounded hand-over of register replies from the reader to a waiting reader call."""

    def __init__(self, counters: Counter[str], maxsize: int = DEFAULT_MAX_REGISTER_REPLIES) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._queue: queue.Queue[RegisterReply] = queue.Queue(maxsize=maxsize)
        self._open = False
        self._counters = counters

    def open(self) -> None:
        """A read starts: forget stale replies, accept new ones."""
        self._drain()
        self._open = True

    def close(self) -> None:
        """The read ended: replies arriving from now on are unsolicited."""
        self._open = False
        self._drain()

    def put(self, reply: RegisterReply) -> None:
        if not self._open:
            self._counters["unsolicited_registers"] += 1
            return
        try:
            self._queue.put_nowait(reply)
        except queue.Full:
            self._counters["register_overflow"] += 1

    def get(self, timeout_s: float) -> RegisterReply | None:
        try:
            return self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def qsize(self) -> int:
        return self._queue.qsize()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


FrameHandler = Callable[[bytes, int], None]


class ReaderThread:
    """One thread reading a chain link (see the module docstring)."""

    def __init__(
        self,
        transport: SerialTransport,
        parser: ReplyStreamParser,
        *,
        handle_frame: FrameHandler,
        link_lost: Callable[[DeviceError], bool],
        tick: Callable[[], None],
        counters: Counter[str],
        read_timeout_s: float = 0.05,
    ) -> None:
        self.transport = transport
        self.parser = parser
        self.handle_frame = handle_frame
        self.link_lost = link_lost
        self.tick = tick
        self.counters = counters
        self.read_timeout_s = read_timeout_s
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self.stop.clear()
        self._thread = threading.Thread(target=self._run, name="bm13xx-reader", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)
        self._thread = None

    def sync_counters(self) -> None:
        dropped = self.parser.dropped
        self.counters["crc_errors"] = dropped["crc"]
        self.counters["garbage_bytes"] = dropped["garbage_bytes"]
        self.counters["truncated"] = dropped["truncated"]

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data, t_ns = self.transport.read(self.read_timeout_s)
            except DeviceError as exc:
                if self.stop.is_set():
                    break
                self.parser.flush()
                self.sync_counters()
                if not self.link_lost(exc):
                    break
                continue
            if data:
                self.counters["rx_bytes"] += len(data)
                for frame in self.parser.feed(data):
                    self.handle_frame(frame, t_ns)
                self.sync_counters()
            self.tick()
