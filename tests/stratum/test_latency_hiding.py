"""The LATENCY_HIDING job policy: the next job is announced (clean_jobs=false) before the
current one ends; shares of the superseded job stay valid until the rotation, stale after
it and after any clean_jobs block change. Sans-IO with a fake clock, then a real loopback
session."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from stratum_testminer import TestMiner

from asic_bridge.events import ShareEvent, ShareOutcome
from asic_bridge.stratum.client import ClientSession, NewJob
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.messages import LineSplitter
from asic_bridge.stratum.pool import JobPolicy, Pool, PoolConfig
from asic_bridge.stratum.prefetch import LatencyHidingJobs
from asic_bridge.stratum.server import ServerThread

FLOOR = 2.0**-33  # below the hash floor: any nonce meets it, the check judges the job only


class Harness:
    """One pool session and a miner codec, with the time passed in by the test."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.pool = Pool(
            PoolConfig(difficulty=FLOOR, min_difficulty=FLOOR, policy=JobPolicy.LATENCY_HIDING,
                       job_interval_s=30.0, prefetch_lead_s=3.0),
            job_source=SyntheticJobSource(seed=5), sink=self.events.append, seed=1,
        )  # fmt: skip
        self.out: list[bytes] = []
        self.session = self.pool.open_session(self.out.append)
        self.client = ClientSession(user="t", version_rolling=False)
        self.pool.new_job()
        for line in LineSplitter().feed(self.client.handshake()):
            self.session.handle_line(line)
        self.notifies: list[tuple[str, bool]] = []
        self.read()
        self.nonce = 0

    def read(self) -> None:
        for line in LineSplitter().feed(b"".join(self.out)):
            for event in self.client.feed_line(line)[0]:
                if isinstance(event, NewJob):
                    self.notifies.append((event.job.job_id, event.job.clean))
        self.out.clear()

    def submit(self, job_id: str) -> ShareOutcome:
        job = self.client.job
        assert job is not None
        self.nonce += 1
        _, line = self.client.submit(job_id, self.nonce.to_bytes(4, "big"), job.ntime, self.nonce)
        before = len(self.events)
        self.session.handle_line(line.rstrip(b"\n"))
        self.read()
        shares = [e for e in self.events[before:] if isinstance(e, ShareEvent)]
        return shares[-1].outcome


def test_next_job_is_announced_before_the_current_one_ends() -> None:
    h = Harness()
    first = h.notifies[-1][0]
    schedule = LatencyHidingJobs(h.pool, interval_s=30.0, lead_s=3.0, start_s=0.0)
    assert schedule.step(26.9) == [] and len(h.notifies) == 1
    assert schedule.due_s() == pytest.approx(27.0)
    done = schedule.step(27.0)
    h.read()
    assert done and done[0].startswith("announce") and len(h.notifies) == 2
    second, clean = h.notifies[-1]
    assert second != first and clean is False  # prefetch: the older job stays valid
    # before the rotation, a share of the superseded job is accepted (Stratum allows it)
    assert h.submit(first) is ShareOutcome.ACCEPTED
    assert h.submit(second) is ShareOutcome.ACCEPTED
    assert schedule.due_s() == pytest.approx(30.0)
    assert schedule.step(30.0) == ["expire 1"] and len(h.notifies) == 2  # nothing sent
    assert h.submit(first) is ShareOutcome.STALE
    assert h.submit(second) is ShareOutcome.ACCEPTED
    assert schedule.due_s() == pytest.approx(57.0)  # the next rotation's announce


def test_block_change_makes_the_announced_job_stale_and_restarts_the_schedule() -> None:
    h = Harness()
    schedule = LatencyHidingJobs(h.pool, interval_s=30.0, lead_s=3.0, start_s=0.0)
    schedule.step(27.0)
    h.read()
    announced = h.notifies[-1][0]
    block = h.pool.new_job(clean=True)  # a block change: nobody can announce it early
    h.read()
    assert h.notifies[-1] == (block.job_id, True)
    assert h.submit(announced) is ShareOutcome.STALE
    assert schedule.step(28.0) == []  # sees the foreign job: restarts from 28 s
    assert schedule.due_s() == pytest.approx(28.0 + 30.0 - 3.0)
    assert h.submit(block.job_id) is ShareOutcome.ACCEPTED


def test_lead_must_be_shorter_than_the_interval() -> None:
    with pytest.raises(ValueError, match="prefetch_lead_s"):
        PoolConfig(policy=JobPolicy.LATENCY_HIDING, job_interval_s=1.0, prefetch_lead_s=1.0)
    h = Harness()
    with pytest.raises(ValueError, match="lead_s"):
        LatencyHidingJobs(h.pool, interval_s=5.0, lead_s=-1.0, start_s=0.0)


def test_loopback_session_gets_the_next_job_before_the_rotation() -> None:
    """Real TCP on 127.0.0.1: jobs every 1.0 s announced 0.6 s early; the notifies after
    the first say clean_jobs=false, and a share of the first job is stale only after its
    rotation (the order of events, not tight timing, is checked)."""
    pool = Pool(
        PoolConfig(difficulty=FLOOR, min_difficulty=FLOOR, policy=JobPolicy.LATENCY_HIDING,
                   job_interval_s=1.0, prefetch_lead_s=0.6),
        job_source=SyntheticJobSource(seed=7), seed=2,
    )  # fmt: skip
    with ServerThread(pool) as srv, TestMiner(srv.address, version_rolling=False, timeout_s=10.0) as miner:
        miner.handshake()
        first = miner.client.job
        assert first is not None and first.clean
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # bounded in time
            jobs = [e.job for e in miner.events if isinstance(e, NewJob)]
            if len(jobs) >= 3:
                break
            miner.pump()
        jobs = [e.job for e in miner.events if isinstance(e, NewJob)]
        assert len(jobs) >= 3 and all(not j.clean for j in jobs[1:])
        # the first job has certainly passed its rotation now (two announces later)
        _, line = miner.client.submit(first.job_id, (1).to_bytes(4, "big"), first.ntime, 1)
        miner.send(line)
        while time.monotonic() < deadline:
            raw = miner.read_line()
            msg = json.loads(raw)
            if msg.get("id") is not None and "result" in msg:
                assert msg["result"] is not True  # stale, not accepted
                break
