"""The LATENCY_HIDING job policy: announce the next job before the current one ends.

A pool rotates jobs every ``interval_s``. Under the NORMAL policy the new job is sent
at the rotation with ``clean_jobs=true``: every older job turns stale at that instant,
so the shares already found on it (in the miner's queue or on the wire) and the work the
chip does until the notify has reached it and the firmware has switched are lost.

Under LATENCY_HIDING the pool sends the next job ``lead_s`` *before* the rotation with
``clean_jobs=false`` (a prefetch): Stratum lets the miner keep submitting shares of the
older job, which the pool still accepts, while the firmware switches to the new one. At
the rotation itself the pool expires every job but the newest (no message is sent: the
miner already has the newest). A share of an expired job, or of any job a
``clean_jobs=true`` notify superseded (a block change, which no pool can announce in
advance), is stale. So the semantics stay honest: the policy changes *when* the next
job is announced, never which shares count.

:class:`LatencyHidingJobs` is the sans-IO schedule (the caller passes the time, in
seconds on any monotonic clock); :func:`run_latency_hiding` drives it on asyncio for
the server's job timer.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asic_bridge.stratum.pool import Pool


def expire_jobs(pool: Pool, keep_job_id: str) -> int:
    """Mark every job of every session stale except ``keep_job_id``; returns how many
    job slots turned stale. Nothing is sent (the miners already hold the kept job)."""
    expired = 0
    for session in list(pool.sessions.values()):
        for job_id, slot in session.jobs.items():
            if job_id != keep_job_id and not slot.stale:
                slot.stale = True
                expired += 1
    return expired


class LatencyHidingJobs:
    """When to announce and when to expire, for one pool (times in seconds).

    The first rotation ends ``interval_s`` after ``start_s``. :meth:`due_s` is the next
    time :meth:`step` has something to do. A job published by anyone else (e.g. a
    ``clean_jobs=true`` block change through :meth:`Pool.new_job`) restarts the
    schedule at the time :meth:`step` first sees it.
    """

    def __init__(self, pool: Pool, *, interval_s: float, lead_s: float, start_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        if not 0 <= lead_s < interval_s:
            raise ValueError(f"lead_s must be in [0, interval_s = {interval_s}), got {lead_s}")
        self.pool = pool
        self.interval_s = float(interval_s)
        self.lead_s = float(lead_s)
        self.end_s = start_s + self.interval_s
        self.announced: str | None = None
        self._seen = pool.current_job.job_id if pool.current_job is not None else None

    def due_s(self) -> float:
        """The next time :meth:`step` acts (announce, then expire)."""
        return self.end_s if self.announced is not None else self.end_s - self.lead_s

    def restart(self, now_s: float) -> None:
        """A job was published outside the schedule: its rotation ends ``interval_s`` on."""
        self.end_s = now_s + self.interval_s
        self.announced = None
        self._seen = self.pool.current_job.job_id if self.pool.current_job is not None else None

    def step(self, now_s: float) -> list[str]:
        """Do what is due at ``now_s``; returns what was done ("announce <id>",
        "expire <n>") for logs and tests."""
        done: list[str] = []
        current = self.pool.current_job
        if current is not None and current.job_id != self._seen and current.job_id != self.announced:
            self.restart(now_s)  # someone else published (a block change)
        for _ in range(4):  # bounded: at most announce + expire per call, twice over
            if self.announced is None and now_s >= self.end_s - self.lead_s:
                job = self.pool.new_job(clean=False)
                self.announced = self._seen = job.job_id
                done.append(f"announce {job.job_id}")
            elif self.announced is not None and now_s >= self.end_s:
                n = expire_jobs(self.pool, self.announced)
                done.append(f"expire {n}")
                self.announced = None
                self.end_s += self.interval_s
            else:
                break
        return done


async def run_latency_hiding(
    pool: Pool, interval_s: float, lead_s: float, log: Callable[[str], None] | None = None
) -> None:
    """The server's job timer under LATENCY_HIDING (runs until cancelled)."""
    loop = asyncio.get_running_loop()
    schedule = LatencyHidingJobs(pool, interval_s=interval_s, lead_s=lead_s, start_s=loop.time())
    while True:
        await asyncio.sleep(max(0.0, schedule.due_s() - loop.time()))
        try:
            schedule.step(loop.time())
        except Exception as exc:  # the timer must outlive any one failure
            if log is not None:
                log(f"job timer: {exc!r}")
            schedule.restart(loop.time())
        if not math.isfinite(schedule.due_s()):
            return
