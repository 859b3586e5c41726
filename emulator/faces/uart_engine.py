"""The nonce engine of an emulated chain: when each chip finds a nonce, and the nonce.

Timing is physics (:class:`~emulator.faces.uart_chain.ChainPhysics`): chip i reports
nonces as a Poisson process of rate ``hashrate_hs(i) x hashrate_scale / (ticket
difficulty x 2**32)`` per second, the chain scaled down in hash rate only, as the live
Stratum miner is. Each nonce is real: found with SHA-256d
(:func:`emulator.mining.search_chip_nonce`) in the chip's own nonce sub-range, meeting
the ticket difficulty the host applied (TicketMask and, on the emulation register, the
lowered floor), so the host verifies it against exactly what it wrote.

Honesty rules: a nonce the host cannot hash in time is sent late and counted
(``late_shares``, warning with the figures), never faked; a ticket difficulty whose
nonce would cost more than ``max_search_s`` of this host's hashing is not searched at all
(``unaffordable`` counted, warning naming the cause) rather than burning a core; a
hardware error (bad nonce) is sent as the chip would send it, counted ``hw_errors``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

from asic_bridge.serial import codec
from asic_bridge.serial.codec import NonceReply
from emulator.faces.uart_chain import EmulatedChain, UartFaceConfig
from emulator.mining import (
    CHIP_NONCE_COUNTER_BITS,
    HASHES_PER_DIFFICULTY,
    measure_chip_search_hs,
    search_chip_nonce,
)

log = logging.getLogger("emulator.faces.uart")

WARN_INTERVAL_S = 5.0
SEARCH_CHUNK = 1 << 15
"""Hashes per search call (~30 ms here): the longest a close or a new job waits."""


class NonceEngine:
    """Runs on the face's miner thread (:meth:`run`); sends each nonce reply frame with
    ``send`` at its modelled time. ``counters`` is shared with the face."""

    def __init__(
        self,
        chain: EmulatedChain,
        config: UartFaceConfig,
        *,
        send: Callable[[bytes], None],
        stop: threading.Event,
        counters: Counter[str],
        rng: random.Random,
    ) -> None:
        self.chain = chain
        self.config = config
        self.send = send
        self.stop = stop
        self.counters = counters
        self.rng = rng
        self.host_hs = 0.0
        self.hashrate_scale = config.hashrate_scale or 0.0
        self._last_warn: dict[str, float] = {}

    def calibrate(self) -> float:
        """Measure this host's hash rate (H/s) and fix the scale when it is automatic:
        the chain at its current clocks then needs ``host_utilization`` of it."""
        self.host_hs = measure_chip_search_hs(self.chain.family)
        if self.config.hashrate_scale is None:
            physics = self.chain.physics
            nominal = sum(max(0.0, physics.hashrate_hs(i)) for i in range(physics.chip_count))
            self.hashrate_scale = (self.config.host_utilization * self.host_hs / nominal
                                   if nominal > 0 else 1e-9)
        return self.host_hs

    def share_rates(self) -> list[float]:
        return self.chain.share_rates(self.hashrate_scale)

    def _warn(self, key: str, text: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warn.get(key, -1e9) > WARN_INTERVAL_S:
            self._last_warn[key] = now
            log.warning(text, *args)

    def _affordable(self, difficulty: float) -> bool:
        cost_s = difficulty * HASHES_PER_DIFFICULTY / max(self.host_hs, 1.0)
        if cost_s <= self.config.max_search_s:
            return True
        self.counters["unaffordable"] += 1
        remedy = ("the host must write the emulation register (hashrc's driver does) to "
                  "lower the chip's difficulty-1 floor" if self.chain.floor_shift == 0 else
                  f"ask for a lower ticket difficulty (the chain suggests "
                  f"{self.config.suggested_ticket_difficulty:g})")
        self._warn("unaffordable",
                   "UART face: ticket difficulty %g costs %.3g SHA-256d per nonce, %.3g s of "
                   "this host's hashing (%.3g H/s); the chain stays silent: %s", difficulty,
                   difficulty * HASHES_PER_DIFFICULTY, cost_s, self.host_hs, remedy)
        return False

    def run(self) -> None:
        chain, rng, fam = self.chain, self.rng, self.chain.family
        version_epoch = 0
        while not self.stop.is_set():
            with chain.lock:
                while not self.stop.is_set() and (
                    chain.job is None or sum(self.share_rates()) <= 0
                    or not self._affordable(chain.ticket_difficulty)
                ):
                    chain.changed.wait(0.2)
                if self.stop.is_set():
                    return
                rates = self.share_rates()
                job, difficulty = chain.job, chain.ticket_difficulty
                assert job is not None
                total = sum(rates)
                gap = rng.expovariate(total)
                pick = rng.choices(range(len(rates)), weights=rates)[0]
                chip = chain.chips[pick]
                address = chip.address
                version_mask = chain.version_mask
                hw_error = rng.random() < chain.physics.hw_error_probability(pick)
            due = time.monotonic() + gap
            if hw_error:
                n = (rng.randrange(fam.cores) << 25) | (address << CHIP_NONCE_COUNTER_BITS) \
                    | rng.randrange(1 << CHIP_NONCE_COUNTER_BITS)
                reply: NonceReply | None = NonceReply(
                    n.to_bytes(4, "big"), 0, fam.id_byte_for(job.job_id, 0), 0)
                self.counters["hw_errors"] += 1
            else:
                reply = None
                # in chunks of SEARCH_CHUNK hashes, each in a fresh sub-range (every hash is
                # an independent trial), so that a close or a new job ends a long search
                while reply is None and not self.stop.is_set() and chain.job is job:
                    version_epoch += 1
                    reply, hashes = search_chip_nonce(
                        fam, job, address=address, core=rng.randrange(fam.cores),
                        start=rng.randrange(1 << CHIP_NONCE_COUNTER_BITS),
                        difficulty=difficulty, version_mask=version_mask,
                        version_start=(version_epoch * fam.small_cores_per_core) & 0xFFFF,
                        max_hashes=SEARCH_CHUNK,
                    )
                    self.counters["hashes"] += hashes
            if reply is None:
                self.counters["search_abandoned"] += 1
                continue
            # wait for the modelled time; give the nonce up if the job, mask or chip changed
            with chain.lock:
                while not self.stop.is_set():
                    remaining = due - time.monotonic()
                    if remaining <= 0 or chain.job is not job:
                        break
                    chain.changed.wait(remaining)
                if self.stop.is_set():
                    return
                stale = (chain.job is not job or chip.silent
                         or chain.ticket_difficulty > difficulty)
            if stale:
                self.counters["shares_abandoned"] += 1
                continue
            late = time.monotonic() - due
            if late > 0.05:
                self.counters["late_shares"] += 1
                self._warn("late",
                           "UART face: the host cannot hash fast enough for the requested "
                           "share rate (%.1f shares/s at ticket difficulty %g); shares are "
                           "%.3f s late", total, difficulty, late)
            self.counters["shares"] += 1
            self.send(codec.encode_nonce_reply(reply))
