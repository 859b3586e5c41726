"""Bounded pool state and bad input, without sockets: field limits at parse, submits before
the handshake, the duplicate set (accepted shares only, bounded, version bits in its key),
deep JSON, and a sink that cannot record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asic_bridge.errors import CaptureError
from asic_bridge.events import JobEvent, ShareEvent, ShareOutcome
from asic_bridge.stratum.jobs import Job, SyntheticJobSource
from asic_bridge.stratum.methods import MAX_JOB_ID_CHARS, MAX_USER_CHARS
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.session import ServerSession

EASY = 1e-10  # every nonce is a share: target capped at 2**256 - 1
EN2 = "00000001"


class Box:
    """A pool with one session whose output lines are collected."""

    def __init__(self, *, difficulty: float = EASY, sink: Any = None, **config: Any) -> None:
        self.events: list[Any] = []
        self.pool = Pool(
            PoolConfig(difficulty=difficulty, min_difficulty=min(difficulty, 1e-6), job_interval_s=None,
                       **config),
            job_source=SyntheticJobSource(extranonce_size=8, seed=3),
            sink=sink if sink is not None else self.events.append,
            seed=1,
        )
        self.pool.new_job()
        self.out: list[bytes] = []
        self.s: ServerSession = self.pool.open_session(self.out.append)

    def call(self, method: str, params: Any, msg_id: Any = 1) -> list[dict[str, Any]]:
        return self.raw(json.dumps({"id": msg_id, "method": method, "params": params}).encode())

    def raw(self, line: bytes) -> list[dict[str, Any]]:
        self.s.handle_line(line)
        got = [json.loads(x) for chunk in self.out for x in chunk.splitlines()]
        self.out.clear()
        return got

    def ready(self, mask: str = "1fffe000") -> Box:
        self.call("mining.configure", [["version-rolling"], {"version-rolling.mask": mask}])
        self.call("mining.subscribe", ["t/1"])
        self.call("mining.authorize", ["w", "x"])
        return self

    @property
    def job(self) -> Job:
        return list(self.s.jobs.values())[-1].job

    def submit(self, nonce: int, *, bits: int | None = None, en2: str = EN2, job_id: str | None = None,
               msg_id: int = 7) -> dict[str, Any]:
        job = self.job
        params = ["w", job_id or job.job_id, en2, f"{job.ntime:08x}", f"{nonce:08x}"]
        if bits is not None:
            params.append(f"{bits:08x}")
        return self.call("mining.submit", params, msg_id)[0]

    def shares(self) -> list[ShareEvent]:
        return [e for e in self.events if isinstance(e, ShareEvent)]


# --- duplicate key and set --------------------------------------------------------------


def test_version_rolled_share_with_same_nonce_is_not_a_duplicate() -> None:
    """Same extranonce2, ntime and nonce but other rolled version bits: another header, a
    valid share. A duplicate key without the version bits rejects it (this test fails)."""
    b = Box().ready()
    assert b.submit(5, bits=0x00002000)["result"] is True
    second = b.submit(5, bits=0x00004000)
    assert second["result"] is True, f"version-rolled share rejected: {second}"
    assert b.submit(5, bits=0x00004000)["error"][0] == 22  # the very same share: duplicate
    assert [e.outcome for e in b.shares()] == [
        ShareOutcome.ACCEPTED, ShareOutcome.ACCEPTED, ShareOutcome.DUPLICATE,
    ]


def test_duplicate_set_holds_accepted_shares_only() -> None:
    b = Box(difficulty=1e6).ready()  # nothing reaches it: every share is low difficulty
    for nonce in range(200):
        assert b.submit(nonce)["error"][0] == 23
    slot = next(iter(b.s.jobs.values()))
    assert len(slot.seen) == 0


def test_duplicate_set_is_bounded_per_job_and_a_full_job_is_replaced() -> None:
    b = Box(max_shares_per_job=10).ready()
    first = b.job.job_id
    for nonce in range(10):
        assert b.submit(nonce)["result"] is True
    assert b.job.job_id != first  # the session got a fresh job when the first filled up
    late = b.submit(99, job_id=first)
    assert late["error"][0] == 21  # answered stale, not remembered
    assert all(len(slot.seen) <= 10 for slot in b.s.jobs.values())
    assert b.submit(99)["result"] is True  # the new job takes shares


# --- field lengths and submits before the handshake -------------------------------------


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("mining.authorize", ["u" * (MAX_USER_CHARS + 1), "x"]),
        ("mining.authorize", ["u", "p" * 60_000]),
        ("mining.subscribe", ["agent" * 20_000]),
        ("mining.subscribe", ["a", "s" * 60_000]),
        ("mining.configure", [["x" * 60_000], {}]),
        ("mining.configure", [["version-rolling"] * 1000, {}]),
        ("mining.suggest_difficulty", ["1" * 60_000]),
    ],
)
def test_oversize_handshake_fields_are_bad_lines(method: str, params: list[Any]) -> None:
    b = Box()
    reply = b.call(method, params)
    assert reply[0]["error"] is not None and reply[0]["result"] in (None, False)
    assert b.s.bad_lines == 1
    assert b.s.user is None and (b.s.agent is None or len(b.s.agent) <= 256)


@pytest.mark.parametrize(
    ("index", "value", "what"),
    [
        (0, "w" * 60_000, "worker"),
        (1, "j" * 60_000, "job_id"),
        (1, "j" * (MAX_JOB_ID_CHARS + 1), "job_id"),
        (2, "00" * 30_000, "extranonce2"),
    ],
)
def test_oversize_submit_fields_are_bad_lines(index: int, value: str, what: str) -> None:
    b = Box().ready()
    job = b.job
    params = ["w", job.job_id, EN2, f"{job.ntime:08x}", "00000001"]
    params[index] = value
    reply = b.call("mining.submit", params)[0]
    assert reply["error"][0] == 20 and what in reply["error"][1]
    assert b.s.bad_lines == 1
    assert all(len(e.job_id) <= MAX_JOB_ID_CHARS and len(e.device) < 300 for e in b.shares())


def test_submits_before_the_handshake_are_bad_lines_and_close_the_session() -> None:
    b = Box(max_bad_lines=5)
    for i in range(4):
        reply = b.call("mining.submit", ["w", "1", EN2, "00000000", f"{i:08x}"], msg_id=i)
        assert reply[0]["error"][0] == 25  # answered: not subscribed
    assert b.s.bad_lines == 4 and b.s.close_reason is None
    b.call("mining.subscribe", ["t"])
    reply = b.call("mining.submit", ["w", "1", EN2, "00000000", "00000009"], msg_id=9)
    assert reply[0]["error"][0] == 24  # subscribed, not authorized: still a bad line
    assert b.s.bad_lines == 5 and b.s.close_reason is not None
    assert len(b.shares()) == 5  # recorded as unauthorized, and no more than the bound


def test_deep_json_is_an_error_for_that_line_only() -> None:
    b = Box().ready()
    reply = b.raw(b"[" * 30_000 + b"]" * 30_000)
    assert reply[0]["error"][0] == 20 and "nested" in reply[0]["error"][1]
    assert b.s.close_reason is None
    assert b.call("mining.ping", [], msg_id=3)[0]["result"] == "pong"


# --- a sink that cannot record ---------------------------------------------------------


def test_failing_sink_answers_submits_with_the_cause_and_keeps_everyone() -> None:
    state = {"full": False}
    recorded: list[Any] = []
    log: list[str] = []

    def sink(event: Any) -> None:
        if state["full"]:
            raise CaptureError("capture c.sqlite failed: database or disk is full")
        recorded.append(event)

    b = Box(sink=sink).ready()
    b.pool.log = log.append
    assert b.submit(1)["result"] is True
    state["full"] = True
    reply = b.submit(2)
    assert reply["result"] is None
    assert reply["error"][1] == "cannot record shares: capture c.sqlite failed: database or disk is full"
    assert b.s.close_reason is None and b.s.bad_lines == 0
    job = b.pool.new_job()  # the job timer's call: must not raise
    assert b.job.job_id == job.job_id
    b.out.clear()
    assert len(log) == 1 and "disk is full" in log[0]
    state["full"] = False
    assert b.submit(2)["result"] is True  # not remembered as a duplicate while unrecorded
    assert [e.nonce for e in recorded if isinstance(e, ShareEvent)] == [1, 2]
    assert any(isinstance(e, JobEvent) for e in recorded)


def test_client_requests_awaiting_answers_are_bounded() -> None:
    """A pool that never answers cannot grow a client's table of pending requests."""
    from asic_bridge.stratum.client import MAX_PENDING, ClientSession

    client = ClientSession(user="u")
    for _ in range(MAX_PENDING + 1000):
        client.request("mining.ping", [])
    assert len(client._pending) == MAX_PENDING
