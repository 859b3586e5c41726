"""Public APIs of the pool, server, proxy and hash workers raise types from
asic_bridge.errors (root BridgeError), never a bare RuntimeError or KeyError."""

from __future__ import annotations

import asyncio
import socket

import pytest

from asic_bridge.errors import BridgeError, NotRunning, PoolError, UnknownSession
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.proxy import _UpstreamJobs
from asic_bridge.stratum.server import ServerThread, StratumServer


def _pool(**config: object) -> Pool:
    cfg = PoolConfig(**config)  # type: ignore[arg-type]
    return Pool(cfg, job_source=SyntheticJobSource(
        extranonce_size=cfg.extranonce1_size + cfg.extranonce2_size))


def test_extranonce1_exhaustion_is_a_pool_error_and_the_server_refuses_that_peer() -> None:
    pool = _pool(extranonce1_size=1)
    for _ in range(256):
        pool.open_session(lambda data: None)
    with pytest.raises(PoolError, match="extranonce1 space exhausted") as info:
        pool.open_session(lambda data: None)
    assert isinstance(info.value, BridgeError)


def test_a_full_pool_refuses_the_next_peer_and_keeps_serving() -> None:
    logged: list[str] = []
    pool = _pool(extranonce1_size=1)
    with ServerThread(pool, host="127.0.0.1", port=0, log=logged.append) as thread:
        thread.server.call(lambda: [pool.open_session(lambda data: None) for _ in range(256)])
        with socket.create_connection(thread.server.address, timeout=5.0) as peer:
            assert peer.recv(100) == b""  # closed at once
        assert any("refusing" in line and "exhausted" in line for line in logged), logged
        assert thread.server.call(lambda: len(pool.sessions)) == 256  # still serving


def test_unknown_session_and_a_server_not_running() -> None:
    pool = _pool()
    with pytest.raises(UnknownSession, match="no open session 99"):
        pool.set_difficulty(1.0, session_id=99)
    server = StratumServer(pool, host="127.0.0.1", port=0)
    with pytest.raises(NotRunning, match="not running"):
        server.set_difficulty(1.0)
    with pytest.raises(PoolError, match="upstream"):
        _UpstreamJobs().make_job("1")


def test_hash_workers_not_started() -> None:
    from emulator.mining import HashWorkers

    with pytest.raises(NotRunning, match="not started"):
        asyncio.run(HashWorkers(workers=1).mine(None))  # type: ignore[arg-type]
