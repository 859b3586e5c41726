"""Nonce replies into shares: job memory, verification at the applied ticket difficulty,
and the watchdog that says when nothing verifies (sans-IO; the caller gives the times).

Every nonce is checked against the ticket difficulty the driver wrote to the chips (the
TicketMask and, on an emulated chain, the lowered floor of :mod:`asic_bridge.serial.
ticket`): a hash short of it is counted ``bad_hash`` (a hardware error, as the firmware
counts it), a job id never sent (or rotated out) ``unknown_job``.

:meth:`NonceVerifier.check_stall`: once jobs have been sent, a window of ``stall_s``
seconds without one verified nonce yields a :class:`~asic_bridge.events.StatusEvent`
``no_valid_nonces`` whose detail names the likely cause from what did arrive, unless
nothing arrived and the chain's nominal hashrate makes silence likely at the ticket
difficulty (fewer than :data:`MIN_EXPECTED_NONCES` expected).
"""

from __future__ import annotations

import time
from collections import Counter

from asic_bridge.events import ShareEvent, ShareOutcome, StatusEvent, TimestampSource
from asic_bridge.serial import codec
from asic_bridge.serial.chips import ChipFamily
from asic_bridge.serial.codec import Job, NonceReply

MIN_EXPECTED_NONCES = 5.0
"""A silent window is worth a warning only when the chain should have returned at least
this many nonces (P(none) = e**-5, 0.7 %), or when the expectation is unknown."""


class NonceVerifier:
    """Jobs in flight (at most one per job id: ``job_id_modulo / job_id_step`` of them)
    and the verification of nonce replies against them."""

    def __init__(
        self,
        family: ChipFamily,
        *,
        device: str,
        counters: Counter[str],
        stall_s: float = 30.0,
        nominal_hashrate_hs: float | None = None,
    ) -> None:
        if not stall_s > 0:
            raise ValueError(f"stall_s must be positive, got {stall_s}")
        self.family = family
        self.device = device
        self.counters = counters
        self.stall_s = stall_s
        self.nominal_hashrate_hs = nominal_hashrate_hs
        self.ticket_difficulty = 1.0
        self.interval = 256
        self.last_share_ns: dict[int, int] = {}
        self._jobs: dict[int, Job] = {}
        self._window_start: float | None = None  # monotonic s; None: no job sent yet
        self._window_counts: Counter[str] = Counter()

    # -- jobs and difficulty ------------------------------------------------------------
    def add_job(self, job: Job, now_s: float | None = None) -> None:
        self._jobs[job.job_id] = job
        if self._window_start is None:
            self._restart_window(time.monotonic() if now_s is None else now_s)

    def forget_jobs(self) -> None:
        self._jobs.clear()

    @property
    def jobs(self) -> dict[int, Job]:
        return self._jobs

    def set_ticket_difficulty(self, difficulty: float, now_s: float | None = None) -> None:
        """The difficulty the chips now apply; restarts the stall window."""
        self.ticket_difficulty = float(difficulty)
        if self._window_start is not None:
            self._restart_window(time.monotonic() if now_s is None else now_s)

    def _restart_window(self, now_s: float) -> None:
        self._window_start = now_s
        self._window_counts.clear()

    # -- replies ------------------------------------------------------------------------
    def verify(self, reply: NonceReply, t_ns: int, mono_ns: int) -> ShareEvent | None:
        """The share of a nonce reply, or None (counted) when it does not verify."""
        job = self._jobs.get(self.family.job_id_of(reply.id_byte))
        if job is None:
            self.counters["unknown_job"] += 1
            self._window_counts["unknown_job"] += 1
            return None
        share, reached = codec.verify_nonce(self.family, job, reply, interval=self.interval,
                                            difficulty=self.ticket_difficulty)
        if share is None:
            self.counters["bad_hash"] += 1
            self._window_counts["bad_hash"] += 1
            return None
        self.counters["shares"] += 1
        self.last_share_ns[share.chip] = t_ns
        self._restart_window(mono_ns / 1e9)
        return ShareEvent(
            t_ns=t_ns, device=self.device, job_id=f"{job.job_id:02x}", nonce=reply.nonce,
            difficulty=self.ticket_difficulty, share_difficulty=reached,
            outcome=ShareOutcome.ACCEPTED, chip=share.chip, core=share.core,
            version_bits=share.version ^ job.version, t_source=TimestampSource.SERIAL,
            t_parse_mono_ns=mono_ns,
        )

    # -- watchdog -----------------------------------------------------------------------
    def check_stall(self, now_s: float, t_ns: int) -> StatusEvent | None:
        """A ``no_valid_nonces`` status when ``stall_s`` passed since the first job, the
        last verified nonce or the last warning without one verified nonce (and, when
        nothing arrived at all, silence has become unlikely); else None."""
        start = self._window_start
        if start is None or now_s - start < self.stall_s:
            return None
        seen = Counter(self._window_counts)  # the restart below clears the window's
        window = now_s - start
        expected = self._expected(window)
        if not seen and expected is not None and expected < MIN_EXPECTED_NONCES:
            return None  # silence is still likely at this difficulty: let the window grow
        self._restart_window(now_s)
        self.counters["stall_warnings"] += 1
        return StatusEvent(t_ns, self.device, "no_valid_nonces",
                           self._cause(window, seen["bad_hash"], seen["unknown_job"]))

    def _expected(self, window_s: float) -> float | None:
        """Nonces a chain at its nominal hashrate returns in ``window_s`` (None: unknown)."""
        if not self.nominal_hashrate_hs:
            return None
        return self.nominal_hashrate_hs * window_s / (self.ticket_difficulty * 2.0**32)

    def _cause(self, window_s: float, bad: int, unknown: int) -> str:
        d, fam = self.ticket_difficulty, self.family.name
        head = f"no nonce verified in {window_s:.0f} s at ticket difficulty {d:g}"
        if bad:
            return (f"{head}: {bad} nonce replies fell short of it. Likely cause: the chips "
                    f"hash at another ticket difficulty than the driver wrote (an emulator "
                    f"with a fixed proof difficulty, or another host reconfigured them), or "
                    f"the chain is not a {fam} (check chip=)")
        if unknown:
            return (f"{head}: {unknown} nonce replies named jobs the driver never sent. Likely "
                    f"cause: another host sends jobs on this link, or the chain is not a "
                    f"{fam} (check chip=)")
        n = self._expected(window_s)
        expected = "" if n is None else \
            f" (a {fam} chain at its nominal hashrate returns about {n:.3g})"
        return (f"{head}: no nonce reply at all{expected}. Likely cause: the jobs do not reach "
                f"the chips (baud, wiring, chip=), the chips are not hashing (clock, power), "
                f"or the difficulty is out of the chain's reach (an emulated chain without "
                f"hashrc's emulation register needs 2**32 hashes per nonce)")
