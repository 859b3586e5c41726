"""The asyncio server over loopback: mining end to end, capture, difficulty, bad clients."""

from __future__ import annotations

import json
import resource
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stratum_testminer import TestMiner

from asic_bridge.capture import CaptureWriter, open_capture
from asic_bridge.events import ShareEvent, ShareOutcome, TimestampSource
from asic_bridge.stratum.client import NewDifficulty, NewJob
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.server import ServerThread

DIFF = 1e-6


def make_server(sink: Any = None, **config: Any) -> ServerThread:
    cfg = {"difficulty": DIFF, "job_interval_s": None, **config}
    pool = Pool(PoolConfig(**cfg), job_source=SyntheticJobSource(seed=11), sink=sink, seed=3)
    return ServerThread(pool)


@pytest.fixture
def events() -> list[Any]:
    return []


@pytest.fixture
def server(events: list[Any]) -> Iterator[ServerThread]:
    with make_server(events.append) as srv:
        yield srv


def test_binds_loopback_by_default(server: ServerThread) -> None:
    assert server.address[0] == "127.0.0.1"


def test_mine_end_to_end_into_capture(tmp_path: Path) -> None:
    path = tmp_path / "pool.sqlite"
    with (
        CaptureWriter(path, metadata={"device_model": "unknown"}) as capture,
        make_server(capture.write) as srv,
        TestMiner(srv.address) as miner,
    ):
        miner.handshake()
        ids = miner.mine(30_000)
        assert ids, "expected ~7 shares in 30k nonces at 1e-6"
        assert set(miner.wait_results(ids)) == {ShareOutcome.ACCEPTED}
        info = srv.server.sessions()
        assert info[0].accepted == len(ids) and info[0].user == "tester"
    with open_capture(path) as reader:
        shares = list(reader.events("shares"))
        jobs = list(reader.events("jobs"))
    assert len(shares) == len(ids) and len(jobs) == 1
    now = time.time_ns()
    for ev in shares:
        assert isinstance(ev, ShareEvent) and ev.outcome is ShareOutcome.ACCEPTED
        assert now - 60e9 < ev.t_ns <= now and ev.t_parse_mono_ns is not None
        if sys.platform.startswith("linux"):
            assert ev.t_source is TimestampSource.KERNEL


def test_userspace_timestamp_fallback_is_flagged(events: list[Any]) -> None:
    pool = Pool(
        PoolConfig(difficulty=DIFF), job_source=SyntheticJobSource(seed=1), sink=events.append
    )
    with ServerThread(pool, kernel_timestamps=False) as srv, TestMiner(srv.address) as miner:
        miner.handshake()
        ids = miner.mine(30_000)
        miner.wait_results(ids)
    shares = [e for e in events if isinstance(e, ShareEvent)]
    assert shares and all(e.t_source is TimestampSource.USERSPACE for e in shares)


def test_difficulty_change_changes_share_rate(server: ServerThread) -> None:
    with TestMiner(server.address) as miner:
        miner.handshake()
        low = miner.mine(120_000)
        server.server.set_difficulty(8 * DIFF)  # from this (test) thread: thread-safe
        miner.wait_for(NewDifficulty, 2)
        assert miner.client.difficulty == 8 * DIFF
        high = miner.mine(120_000)
        outcomes = miner.wait_results(low + high)
    assert set(outcomes) == {ShareOutcome.ACCEPTED}
    # expected 28 vs 3.5 shares; Poisson bounds far from the expectation
    assert 12 <= len(low) <= 50 and len(high) <= 12 and len(low) >= 2.5 * max(len(high), 1)


def test_new_job_on_demand(server: ServerThread) -> None:
    with TestMiner(server.address) as miner:
        miner.handshake()
        job_id = server.server.new_job()
        jobs = miner.wait_for(NewJob, 2)
        assert jobs[-1].job.job_id == job_id


def test_non_json_gets_error_and_connection_survives(server: ServerThread) -> None:
    with TestMiner(server.address) as miner:
        miner.send(b"this is not json\n")
        reply = miner.read_json()
        assert reply["error"][0] == 20 and "not JSON" in reply["error"][1]
        miner.handshake()


def test_overlong_line_closes_only_that_connection(server: ServerThread, events: list[Any]) -> None:
    with TestMiner(server.address) as good, TestMiner(server.address) as bad:
        good.handshake()
        ids = good.mine(20_000)
        good.wait_results(ids)
        bad.send(b"{" + b"x" * (64 * 1024 + 10))
        reply = bad.read_json()
        assert "exceeds" in reply["error"][1]
        with pytest.raises(ConnectionError):
            bad.read_line()
        more = good.mine(20_000)
        assert set(good.wait_results(more)) <= {ShareOutcome.ACCEPTED}
    assert len([e for e in events if isinstance(e, ShareEvent)]) == len(ids) + len(more)


def test_silent_client_is_timed_out() -> None:
    with make_server(handshake_timeout_s=0.3) as srv:
        sock = socket.create_connection(srv.address, timeout=5)
        try:
            t0 = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - t0 < 3
        finally:
            sock.close()
        assert srv.server.connection_count == 0, srv.server.sessions()


def test_idle_client_after_handshake_is_timed_out() -> None:
    with make_server(idle_timeout_s=0.4) as srv, TestMiner(srv.address) as miner:
        miner.handshake()
        with pytest.raises(ConnectionError):
            while True:
                miner.read_line()


def test_client_that_stops_reading_is_dropped_others_continue(events: list[Any]) -> None:
    with (
        make_server(events.append, max_write_buffer_bytes=64 * 1024) as srv,
        TestMiner(srv.address) as good,
        TestMiner(srv.address) as stuck,
    ):
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.handshake()
        good.handshake()
        deadline = time.monotonic() + 20
        while srv.server.connection_count > 1 and time.monotonic() < deadline:
            for _ in range(200):
                srv.server.new_job()
            while len(good.lines) < 50:  # keep the good client reading
                good.lines.extend(good.splitter.feed(good.sock.recv(1 << 20)))
            good.lines.clear()
        assert srv.server.connection_count == 1
        last = srv.server.new_job()
        while good.client.job is None or good.client.job.job_id != last:
            good.pump()
        ids = good.mine(20_000)
        assert set(good.wait_results(ids)) <= {ShareOutcome.ACCEPTED}


def test_thousand_concurrent_connections() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2600:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    socks: list[socket.socket] = []
    try:
        with make_server() as srv:
            hello = (
                b'{"id":1,"method":"mining.subscribe","params":["x"]}\n'
                b'{"id":2,"method":"mining.authorize","params":["w","x"]}\n'
            )
            for _ in range(1000):
                s = socket.create_connection(srv.address, timeout=10)
                socks.append(s)
                s.sendall(hello)
            for s in socks:
                buf = b""
                while buf.count(b"\n") < 4:  # subscribe, authorize, set_difficulty, notify
                    chunk = s.recv(65536)
                    assert chunk
                    buf += chunk
                assert b"mining.notify" in buf
            assert srv.server.connection_count == 1000
            assert len({i.extranonce1 for i in srv.server.sessions()}) == 1000
            with TestMiner(srv.address) as miner:  # still serving
                miner.handshake()
                assert set(miner.wait_results(miner.mine(20_000))) <= {ShareOutcome.ACCEPTED}
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_set_difficulty_from_many_threads(server: ServerThread) -> None:
    with TestMiner(server.address) as miner:
        miner.handshake()
        (sid,) = [i.session_id for i in server.server.sessions()]
        values = [DIFF * (k + 2) for k in range(8)]
        threads = [
            threading.Thread(target=server.server.set_difficulty, args=(v, sid)) for v in values
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = miner.wait_for(NewDifficulty, 9)
        assert sorted(e.difficulty for e in got[1:]) == values
        assert server.server.sessions()[0].difficulty == got[-1].difficulty


def test_ping_and_unknown_method_over_socket(server: ServerThread) -> None:
    with TestMiner(server.address) as miner:
        miner.send(b'{"id":1,"method":"mining.ping","params":[]}\n{"id":2,"method":"x.y"}\n')
        assert miner.read_json()["result"] == "pong"
        assert json.dumps(miner.read_json()["error"]).startswith("[20")
