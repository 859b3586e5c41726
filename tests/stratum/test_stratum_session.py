"""The pool state machine without sockets: handshake, every reject, policies, difficulty."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asic_bridge.events import ControlEvent, JobEvent, ShareEvent, ShareOutcome, TimestampSource
from asic_bridge.hashing import difficulty_of_hash, sha256d
from asic_bridge.stratum.client import scan_nonces
from asic_bridge.stratum.jobs import Job, SyntheticJobSource
from asic_bridge.stratum.pool import JobPolicy, Pool, PoolConfig
from asic_bridge.stratum.rejects import ErrorStyle
from asic_bridge.stratum.session import ServerSession
from asic_bridge.stratum.vardiff import VarDiffConfig

DIFF = 1e-6


class Harness:
    def __init__(self, **config: Any) -> None:
        lbry = config.pop("lbry", False)
        self.events: list[Any] = []
        self.pool = Pool(
            PoolConfig(**{"difficulty": DIFF, **config}),
            job_source=SyntheticJobSource(extranonce_size=8, seed=7, lbry=lbry),
            sink=self.events.append,
            seed=1,
        )
        self.pool.new_job()
        self.out: dict[int, list[bytes]] = {}

    def open(self) -> ServerSession:
        box: list[bytes] = []
        s = self.pool.open_session(box.append)
        self.out[s.session_id] = box
        return s

    def lines(self, s: ServerSession) -> list[dict[str, Any]]:
        box = self.out[s.session_id]
        got = [json.loads(x) for chunk in box for x in chunk.splitlines()]
        box.clear()
        return got

    def call(
        self, s: ServerSession, method: str, params: Any, msg_id: Any = 1
    ) -> list[dict[str, Any]]:
        s.handle_line(json.dumps({"id": msg_id, "method": method, "params": params}).encode())
        return self.lines(s)

    def ready(self, *, configure: str | None = "ffffffff") -> ServerSession:
        s = self.open()
        if configure:
            self.call(
                s, "mining.configure", [["version-rolling"], {"version-rolling.mask": configure}]
            )
        self.call(s, "mining.subscribe", ["test/1.0"])
        self.call(s, "mining.authorize", ["worker", "x"])
        return s

    def shares(self) -> list[ShareEvent]:
        return [e for e in self.events if isinstance(e, ShareEvent)]


def job_of(s: ServerSession) -> Job:
    return list(s.jobs.values())[-1].job


def find_share(
    s: ServerSession, job: Job, en2: bytes, *, version_bits: int = 0, difficulty: float = DIFF
) -> int:
    found = scan_nonces(
        job,
        s.extranonce1,
        en2,
        ntime=job.ntime,
        version=job.version ^ version_bits,
        start=0,
        count=200_000,
        difficulty=difficulty,
    )
    assert found, "no share in 200k nonces"
    return found[0][0]


def submit_params(
    job: Job, en2: bytes, nonce: int, *, ntime: int | None = None, vb: int | None = None
) -> list[Any]:
    p = [
        "worker",
        job.job_id,
        en2.hex(),
        f"{job.ntime if ntime is None else ntime:08x}",
        f"{nonce:08x}",
    ]
    return p if vb is None else [*p, f"{vb:08x}"]


EN2 = b"\x01\x00\x00\x00"


def test_handshake_sends_difficulty_then_job_and_unique_extranonce1() -> None:
    h = Harness()
    s = h.open()
    assert h.call(s, "mining.subscribe", ["esp-miner"])[0]["result"][2] == 4
    assert h.call(s, "mining.authorize", ["w", "p"])[0] == {"id": 1, "result": True, "error": None}
    # started after both: set_difficulty, then notify
    s2 = h.ready()
    assert s2.started and s.started
    ext = {h.ready().extranonce1 for _ in range(50)} | {s.extranonce1, s2.extranonce1}
    assert len(ext) == 52


def test_notify_follows_authorize() -> None:
    h = Harness()
    s = h.open()
    h.call(s, "mining.subscribe", [])
    s.handle_line(b'{"id":2,"method":"mining.authorize","params":["w","x"]}')
    lines = h.lines(s)
    assert [m.get("method") for m in lines] == [None, "mining.set_difficulty", "mining.notify"]
    assert lines[1]["params"] == [DIFF]
    assert any(isinstance(e, JobEvent) for e in h.events)


def test_configure_negotiates_mask() -> None:
    h = Harness()
    s = h.open()
    r = h.call(
        s,
        "mining.configure",
        [["version-rolling", "minimum-difficulty"], {"version-rolling.mask": "ffffffff"}],
    )
    assert r[0]["result"] == {
        "version-rolling": True,
        "version-rolling.mask": "1fffe000",
        "minimum-difficulty": False,
    }
    r = h.call(s, "mining.configure", [["version-rolling"], {"version-rolling.mask": "00fff000"}])
    assert r[0]["result"]["version-rolling.mask"] == "00ffe000"


def test_authorize_with_user_list() -> None:
    h = Harness(users={"alice": "secret"})
    s = h.open()
    h.call(s, "mining.subscribe", [])
    r = h.call(s, "mining.authorize", ["alice", "wrong"])
    assert r[0]["result"] is False and r[0]["error"][0] == 24
    assert not s.authorized
    assert h.call(s, "mining.authorize", ["alice", "secret"])[0]["result"] is True


def test_other_methods() -> None:
    h = Harness()
    s = h.ready()
    assert h.call(s, "mining.ping", [])[0]["result"] == "pong"
    assert h.call(s, "mining.extranonce.subscribe", [])[0]["result"] is True
    assert h.call(s, "mining.suggest_difficulty", [0.5])[0]["result"] is True
    assert s.difficulty == DIFF  # ignored unless honor_suggested_difficulty
    assert h.call(s, "mining.suggest_difficulty", ["2"])[0]["result"] is True


def test_suggest_difficulty_honoured_when_configured() -> None:
    h = Harness(honor_suggested_difficulty=True)
    s = h.ready()
    r = h.call(s, "mining.suggest_difficulty(0.001)", [])
    assert r[0]["result"] is True and r[1]["method"] == "mining.set_difficulty"
    assert s.difficulty == 0.001


def test_accepted_share_recorded_with_times() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    nonce = find_share(s, job, EN2)
    s.handle_line(
        json.dumps(
            {"id": 5, "method": "mining.submit", "params": submit_params(job, EN2, nonce)}
        ).encode(),
        t_ns=123,
        t_source=TimestampSource.KERNEL,
        t_parse_mono_ns=456,
    )
    assert h.lines(s) == [{"id": 5, "result": True, "error": None}]
    (ev,) = h.shares()
    header = job.header(s.extranonce1, EN2, ntime=job.ntime, nonce=nonce, version=job.version)
    assert ev.outcome is ShareOutcome.ACCEPTED and ev.nonce == nonce and ev.job_id == job.job_id
    assert ev.share_difficulty == pytest.approx(difficulty_of_hash(sha256d(header)))
    assert ev.share_difficulty >= DIFF and ev.difficulty == DIFF
    assert (ev.t_ns, ev.t_source, ev.t_parse_mono_ns) == (123, TimestampSource.KERNEL, 456)


def _submit(h: Harness, s: ServerSession, params: list[Any]) -> tuple[dict[str, Any], ShareEvent]:
    before = len(h.shares())
    replies = h.call(s, "mining.submit", params, msg_id=9)
    assert len(h.shares()) == before + 1
    (reply,) = [r for r in replies if r.get("id") == 9]
    return reply, h.shares()[-1]


def test_submit_before_subscribe() -> None:
    h = Harness()
    s = h.open()
    reply, ev = _submit(h, s, ["w", "1", "00000000", "65000000", "00000000"])
    assert reply["error"][0] == 25 and ev.outcome is ShareOutcome.UNAUTHORIZED


def test_submit_before_authorize() -> None:
    h = Harness()
    s = h.open()
    h.call(s, "mining.subscribe", [])
    reply, ev = _submit(h, s, ["w", "1", "00000000", "65000000", "00000000"])
    assert reply["error"][0] == 24 and ev.outcome is ShareOutcome.UNAUTHORIZED


def test_unknown_job() -> None:
    h = Harness()
    s = h.ready()
    reply, ev = _submit(h, s, ["w", "nope", "01000000", "65000000", "00000000"])
    assert reply["error"][0] == 21 and ev.outcome is ShareOutcome.UNKNOWN_JOB


def test_stale_job() -> None:
    h = Harness()
    s = h.ready()
    old = job_of(s)
    nonce = find_share(s, old, EN2)
    h.pool.new_job()
    reply, ev = _submit(h, s, submit_params(old, EN2, nonce))
    assert reply["error"] == [21, "Stale job", None] and ev.outcome is ShareOutcome.STALE
    assert ev.share_difficulty >= DIFF  # the hash was still computed


def test_duplicate() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    params = submit_params(job, EN2, find_share(s, job, EN2))
    assert _submit(h, s, params)[1].outcome is ShareOutcome.ACCEPTED
    reply, ev = _submit(h, s, params)
    assert reply["error"][0] == 22 and ev.outcome is ShareOutcome.DUPLICATE


def test_low_difficulty() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    for nonce in range(100):
        header = job.header(s.extranonce1, EN2, ntime=job.ntime, nonce=nonce, version=job.version)
        if difficulty_of_hash(sha256d(header)) < DIFF:
            break
    reply, ev = _submit(h, s, submit_params(job, EN2, nonce))
    assert reply["error"][0] == 23 and ev.outcome is ShareOutcome.LOW_DIFFICULTY
    assert 0 < ev.share_difficulty < DIFF


@pytest.mark.parametrize("offset", [-1, 7001])
def test_ntime_out_of_range(offset: int) -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    reply, ev = _submit(h, s, submit_params(job, EN2, 0, ntime=job.ntime + offset))
    assert reply["error"][0] == 20 and ev.outcome is ShareOutcome.NTIME_OUT_OF_RANGE


def test_ntime_at_window_edge_is_judged_on_hash() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    _, ev = _submit(h, s, submit_params(job, EN2, 0, ntime=job.ntime + 7000))
    assert ev.outcome in (ShareOutcome.ACCEPTED, ShareOutcome.LOW_DIFFICULTY)


def test_version_bits_outside_mask() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    reply, ev = _submit(h, s, submit_params(job, EN2, 0, vb=0x00001000))
    assert reply["error"][0] == 20 and ev.outcome is ShareOutcome.BAD_VERSION_BITS


def test_version_bits_without_configure_rejected() -> None:
    h = Harness()
    s = h.ready(configure=None)
    _, ev = _submit(h, s, submit_params(job_of(s), EN2, 0, vb=0x00002000))
    assert ev.outcome is ShareOutcome.BAD_VERSION_BITS


def test_rolled_version_share_accepted() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    vb = 0x0ABCE000
    nonce = find_share(s, job, EN2, version_bits=vb)
    _, ev = _submit(h, s, submit_params(job, EN2, nonce, vb=vb))
    assert ev.outcome is ShareOutcome.ACCEPTED and ev.version_bits == vb


def test_wrong_extranonce2_length_is_malformed() -> None:
    h = Harness()
    s = h.ready()
    reply, ev = _submit(h, s, submit_params(job_of(s), b"\x01\x02", 0))
    assert reply["error"][0] == 20 and ev.outcome is ShareOutcome.MALFORMED


def test_wrong_types_and_missing_params_in_submit() -> None:
    h = Harness()
    s = h.ready()
    reply, ev = _submit(h, s, ["w", "1", "01000000", 5, "00000000"])
    assert "ntime must be a string" in reply["error"][1] and ev.outcome is ShareOutcome.MALFORMED
    reply, ev = _submit(h, s, ["w", "1"])
    assert "needs 5 params" in reply["error"][1] and ev.outcome is ShareOutcome.MALFORMED


def test_non_json_and_wrong_shapes_answer_and_keep_session() -> None:
    h = Harness()
    s = h.ready()
    for bad in (
        b"not json",
        b"[1]",
        b'{"id":1,"method":7}',
        b'{"id":1,"method":"mining.submit","params":"x"}',
        b'{"id":1,"method":"mining.subscribe","params":[5]}',
        b'{"id":1,"method":"no.such"}',
    ):
        s.handle_line(bad)
        (reply,) = h.lines(s)
        assert reply["result"] is None and reply["error"][0] == 20 and reply["error"][1]
    assert s.close_reason is None
    assert h.call(s, "mining.ping", [])[0]["result"] == "pong"


def test_too_many_bad_lines_close_the_session() -> None:
    h = Harness(max_bad_lines=3)
    s = h.ready()
    for _ in range(3):
        s.handle_line(b"garbage")
    assert s.close_reason is not None and "3 bad lines" in s.close_reason


def test_ckpool_style_rejects() -> None:
    h = Harness(error_style=ErrorStyle.CKPOOL)
    s = h.ready()
    reply, _ = _submit(h, s, ["w", "nope", "01000000", "65000000", "00000000"])
    assert reply == {"id": 9, "result": False, "error": None, "reject-reason": "Invalid JobID"}


def test_one_in_flight_sends_next_job_on_each_submit() -> None:
    h = Harness(policy=JobPolicy.ONE_IN_FLIGHT)
    s = h.ready()
    first = job_of(s)
    nonce = find_share(s, first, EN2)
    replies = h.call(s, "mining.submit", submit_params(first, EN2, nonce), msg_id=3)
    assert replies[0]["result"] is True and replies[1]["method"] == "mining.notify"
    second = job_of(s)
    assert second.job_id != first.job_id and second.clean
    _, ev = _submit(h, s, submit_params(first, EN2, nonce))
    assert ev.outcome is ShareOutcome.STALE
    other = h.ready()
    assert job_of(other).job_id not in (first.job_id, second.job_id)  # per-session jobs


def test_difficulty_per_session_and_fractional() -> None:
    h = Harness()
    a, b = h.ready(), h.ready()
    h.pool.set_difficulty(2.5e-6, a.session_id)
    assert (a.difficulty, b.difficulty) == (2.5e-6, DIFF)
    assert h.lines(a)[-1] == {"id": None, "method": "mining.set_difficulty", "params": [2.5e-6]}
    assert any(isinstance(e, ControlEvent) and e.value == 2.5e-6 for e in h.events)
    h.pool.set_difficulty(3e-6)
    assert a.difficulty == b.difficulty == h.ready().difficulty == 3e-6
    with pytest.raises(ValueError):
        h.pool.set_difficulty(1e-7)


def test_raised_difficulty_applies_to_new_jobs_only() -> None:
    h = Harness()
    s = h.ready()
    job = job_of(s)
    found = scan_nonces(
        job,
        s.extranonce1,
        EN2,
        ntime=job.ntime,
        version=job.version,
        start=0,
        count=100_000,
        difficulty=DIFF,
    )
    weak = next(n for n, v in found if difficulty_of_hash(v.to_bytes(32, "little")) < 1e-3)
    h.pool.set_difficulty(1e-3, s.session_id)
    _, ev = _submit(h, s, submit_params(job, EN2, weak))
    assert ev.outcome is ShareOutcome.ACCEPTED and ev.difficulty == DIFF
    h.pool.new_job()
    _, ev = _submit(h, s, submit_params(job_of(s), EN2, weak))
    assert ev.difficulty == 1e-3


def test_vardiff_off_by_default_and_raises_difficulty_when_on() -> None:
    h = Harness(vardiff=VarDiffConfig(check_shares=5, check_interval_s=1000.0))
    s = h.ready()
    job = job_of(s)
    found = scan_nonces(
        job,
        s.extranonce1,
        EN2,
        ntime=job.ntime,
        version=job.version,
        start=0,
        count=100_000,
        difficulty=DIFF,
    )
    for nonce, _ in found[:5]:
        _submit(h, s, submit_params(job, EN2, nonce))
    assert s.difficulty > DIFF  # five shares in far less than a second: too fast
    h2 = Harness()
    s2 = h2.ready()
    for nonce, _ in found[:5]:
        h2.call(s2, "mining.submit", submit_params(job_of(s2), EN2, nonce))
    assert s2.difficulty == DIFF


def test_lbry_share_accepted() -> None:
    h = Harness(lbry=True)
    s = h.ready()
    job = job_of(s)
    assert job.is_lbry
    assert len(h.call(s, "mining.ping", [])) == 1
    nonce = find_share(s, job, EN2)
    _, ev = _submit(h, s, submit_params(job, EN2, nonce))
    assert ev.outcome is ShareOutcome.ACCEPTED
