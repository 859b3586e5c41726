"""An emulated BM13xx chip chain on a real pseudo-terminal or a loopback TCP socket.

The face speaks the chip UART exactly as the hardware does (see
:mod:`asic_bridge.serial.codec`) and is split by job:

* :mod:`emulator.faces.uart_chain`: the register model (enumeration, addresses, PLL,
  TicketMask, version mask, baud) and the physics hook (:class:`ChainPhysics`);
* :mod:`emulator.faces.uart_engine`: when each chip finds a nonce (physics, scaled in
  hash rate only) and the real nonce, meeting the ticket difficulty the host wrote;
* :mod:`emulator.faces.uart_links`: the pty and TCP byte pipes;
* this module: the pump (reader, paced writer and miner threads), fault injection and
  the lifecycle.

Bytes leave at the configured baud (10 bits per byte; a pty ignores baud rates, so the
face paces itself): a reply is written when its last byte would have arrived. At most
``max_tx_frames`` replies wait for the wire; more are dropped and counted
(``tx_overflow``), as a flooded chip's FIFO would.

Fault injection: ``flip_bit_probability`` and ``drop_byte_probability`` per byte sent,
``missing_chips`` (never answer), :meth:`UartChainFace.silence_chip` (stops answering at
run time), :meth:`UartChainFace.inject` (raw bytes on the wire), and closing the link.
Garbage from the host is counted and skipped; the face never crashes on input.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter

from asic_bridge.serial import codec
from emulator.faces.uart_chain import ChainPhysics, ConstantPhysics, EmulatedChain, UartFaceConfig
from emulator.faces.uart_engine import NonceEngine
from emulator.faces.uart_links import Link, PtyLink, TcpLink
from emulator.mining import HASHES_PER_DIFFICULTY

__all__ = [
    "ChainPhysics", "ConstantPhysics", "EmulatedChain", "PtyUartFace", "TcpUartFace",
    "UartChainFace", "UartFaceConfig", "expected_hashes_per_share",
]

log = logging.getLogger(__name__)


class UartChainFace:
    """An emulated chain served on a link. Use :class:`PtyUartFace` or
    :class:`TcpUartFace`; :meth:`start` launches the reader, writer and miner threads,
    :meth:`close` stops them and closes the link (idempotent)."""

    def __init__(self, physics: ChainPhysics, config: UartFaceConfig | None = None) -> None:
        self.config = config or UartFaceConfig()
        self.chain = EmulatedChain(physics, self.config)
        self.parser = codec.CommandStreamParser(self.chain.family)
        self.counters: Counter[str] = Counter()
        self._rng = random.Random(self.config.seed)
        self._tx: queue.Queue[bytes] = queue.Queue(maxsize=self.config.max_tx_frames)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._link: Link | None = None
        self.engine = NonceEngine(self.chain, self.config, send=self._send, stop=self._stop,
                                  counters=self.counters, rng=self._rng)

    # ----------------------------------------------------------------- lifecycle
    def _open_link(self) -> Link:
        raise NotImplementedError

    def start(self) -> UartChainFace:
        if self._threads:
            return self
        self.engine.calibrate()
        self._link = self._open_link()
        for name, target in (("rx", self._rx_loop), ("tx", self._tx_loop),
                             ("miner", self.engine.run)):
            t = threading.Thread(target=target, name=f"uart-face-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def close(self) -> None:
        """Stop the threads and close the link (the host sees the port go away)."""
        self._stop.set()
        with self.chain.lock:
            self.chain.changed.notify_all()
        if self._link is not None:
            self._link.close()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads.clear()

    def __enter__(self) -> UartChainFace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- faults
    def silence_chip(self, chip: int, silent: bool = True) -> None:
        """Make a chip stop (or resume) answering: no register replies, no shares."""
        with self.chain.lock:
            self.chain.chips[chip].silent = silent
            self.chain.changed.notify_all()

    def set_faults(
        self, *, flip_bit_probability: float | None = None,
        drop_byte_probability: float | None = None,
    ) -> None:
        """Change the per-byte fault probabilities of the bytes sent."""
        if flip_bit_probability is not None:
            self.config.flip_bit_probability = flip_bit_probability
        if drop_byte_probability is not None:
            self.config.drop_byte_probability = drop_byte_probability

    def inject(self, data: bytes) -> None:
        """Send raw bytes on the wire (e.g. garbage between frames)."""
        self._send(bytes(data))

    def _send(self, frame: bytes) -> None:
        """Queue a frame for the paced writer; dropped and counted when the queue is full."""
        try:
            self._tx.put_nowait(frame)
        except queue.Full:
            self.counters["tx_overflow"] += 1

    # ----------------------------------------------------------------- threads
    def _rx_loop(self) -> None:
        link = self._link
        assert link is not None
        while not self._stop.is_set():
            data = link.read(0.05)
            if data is None:
                break
            if not data:
                continue
            self.counters["rx_bytes"] += len(data)
            if self.config.pace:  # the bytes took this long on the wire
                time.sleep(len(data) * 10 / self.chain.baud)
            try:
                items = self.parser.feed(data)
            except Exception:  # never crash on input
                log.exception("UART face: parser failure")
                self.counters["rx_errors"] += 1
                continue
            for item in items:
                try:
                    for frame in self.chain.handle(item):
                        self._send(frame)
                except Exception:
                    log.exception("UART face: command failure")
                    self.counters["rx_errors"] += 1
            self.counters["rx_dropped_bytes"] = self.parser.dropped["garbage_bytes"]
            self.counters["rx_crc_errors"] = self.parser.dropped["crc"]

    def _corrupt(self, data: bytes) -> bytes:
        cfg = self.config
        if cfg.flip_bit_probability <= 0 and cfg.drop_byte_probability <= 0:
            return data
        out = bytearray()
        for b in data:
            if cfg.drop_byte_probability and self._rng.random() < cfg.drop_byte_probability:
                self.counters["dropped_bytes"] += 1
                continue
            if cfg.flip_bit_probability and self._rng.random() < cfg.flip_bit_probability:
                b ^= 1 << self._rng.randrange(8)
                self.counters["flipped_bits"] += 1
            out.append(b)
        return bytes(out)

    def _tx_loop(self) -> None:
        link = self._link
        assert link is not None
        line_free = time.monotonic()
        while not self._stop.is_set():
            try:
                frame = self._tx.get(timeout=0.1)
            except queue.Empty:
                continue
            if self.config.pace:
                now = time.monotonic()
                done = max(now, line_free) + len(frame) * 10 / self.chain.baud
                line_free = done
                delay = done - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if link.write(self._corrupt(frame)):
                self.counters["tx_frames"] += 1
            else:
                self.counters["tx_unsent"] += 1

    @property
    def share_rate_hz(self) -> float:
        """Current total share rate of the chain in shares per second."""
        return sum(self.engine.share_rates())

    @property
    def hashrate_scale(self) -> float:
        """The chain's hash-rate scale (fixed at :meth:`start` when automatic)."""
        return self.engine.hashrate_scale


class PtyUartFace(UartChainFace):
    """The chain on a pseudo-terminal; open :attr:`path` like a USB-UART device."""

    path: str

    def _open_link(self) -> Link:
        link = PtyLink()
        self.path = link.path
        return link


class TcpUartFace(UartChainFace):
    """The chain on ``socket://127.0.0.1:PORT`` (:attr:`url`); loopback only."""

    def __init__(
        self, physics: ChainPhysics, config: UartFaceConfig | None = None, *,
        host: str = "127.0.0.1", port: int = 0,
    ) -> None:
        super().__init__(physics, config)
        self._host, self._port = host, port
        self.url = ""

    def _open_link(self) -> Link:
        link = TcpLink(self._host, self._port)
        self.url = f"socket://{link.address[0]}:{link.address[1]}"
        return link


def expected_hashes_per_share(ticket_difficulty: float) -> float:
    """Mean SHA-256d evaluations the face spends per nonce (difficulty x 2**32)."""
    return ticket_difficulty * HASHES_PER_DIFFICULTY
