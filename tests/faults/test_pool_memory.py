"""Pool memory stays flat: a million duplicate-free submits (session layer in-process, plus
a shorter run over TCP) and a thousand sessions opened and closed over loopback TCP.
RSS from /proc/self/statm; each phase is bounded in count and time."""

from __future__ import annotations

import gc
import json
import os
import socket
import time
import weakref
from typing import Any

import pytest

from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.server import ServerThread

EASY = 1e-10  # every nonce is a share, so every submit is accepted (the worst case)
PAGE = os.sysconf("SC_PAGE_SIZE")
FLAT_MB = 6.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def make_pool(**config: Any) -> tuple[Pool, list[int]]:
    counts = [0]

    def sink(_event: Any) -> None:
        counts[0] += 1

    pool = Pool(
        PoolConfig(difficulty=EASY, min_difficulty=EASY, job_interval_s=None, **config),
        job_source=SyntheticJobSource(extranonce_size=8, seed=5), sink=sink, seed=2,
    )
    return pool, counts


@pytest.mark.slow  # ~15 s idle, ~50 s on a loaded machine: a million shares hashed in Python
def test_million_duplicate_free_submits_keep_memory_flat() -> None:
    """Every submit accepted, one connection: the per-job duplicate set holds at most
    max_shares_per_job keys and full jobs are replaced, so RSS plateaus."""
    pool, counts = make_pool()
    pool.new_job()
    out: list[bytes] = []
    session = pool.open_session(out.append)
    session.handle_line(b'{"id":1,"method":"mining.subscribe","params":["m"]}')
    session.handle_line(b'{"id":2,"method":"mining.authorize","params":["m","x"]}')
    total, warmup = 1_000_000, 200_000
    t_ns = time.time_ns()
    job = next(reversed(session.jobs.values())).job
    head = b'{"id":9,"method":"mining.submit","params":["m","'
    rss_after_warmup = 0.0
    deadline = time.monotonic() + 120
    handle = session.handle_line
    for n in range(total):
        if n % 4096 == 0:
            out.clear()
            job = next(reversed(session.jobs.values())).job  # follow job changes
            tail = b'","00000001","%08x","' % job.ntime
            jid = job.job_id.encode()
            assert time.monotonic() < deadline, f"too slow: {n} submits"
        handle(head + jid + tail + b'%08x"]}' % n, t_ns=t_ns)
        if n == warmup:
            gc.collect()
            rss_after_warmup = rss_mb()
    gc.collect()
    growth = rss_mb() - rss_after_warmup
    assert session.accepted > 0.99 * total and session.bad_lines == 0
    assert sum(len(slot.seen) for slot in session.jobs.values()) <= (
        pool.config.job_history * pool.config.max_shares_per_job
    )
    assert growth < FLAT_MB, f"RSS grew {growth:.1f} MB over {total - warmup} submits after warm-up"
    print(f"\n1M submits in-process: RSS growth after warm-up {growth:+.2f} MB, events {counts[0]}")


def _handshake(sock: socket.socket) -> tuple[str, str, bytes]:
    sock.sendall(
        b'{"id":1,"method":"mining.subscribe","params":["m"]}\n'
        b'{"id":2,"method":"mining.authorize","params":["m","x"]}\n'
    )
    buf = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = sock.recv(65536)
        assert data, "pool closed during the handshake"
        buf += data
        for line in buf.split(b"\n")[:-1]:
            msg = json.loads(line)
            if msg.get("method") == "mining.notify":
                return msg["params"][0], msg["params"][7], buf
    raise TimeoutError("no job")


def test_thousand_sessions_opened_and_closed_are_freed() -> None:
    """Closed sessions are freed by reference counting alone (the garbage collector is
    off during the run): no session <-> connection cycle, no sweeper holding the last."""
    pool, _ = make_pool(handshake_timeout_s=0.4)  # the sweeper runs every 0.1 s
    refs: list[weakref.ref[Any]] = []
    with ServerThread(pool, kernel_timestamps=False) as srv:
        server = srv.server
        gc.collect()
        gc.disable()
        try:
            rss0 = 0.0
            deadline = time.monotonic() + 60
            for n in range(1000):
                assert time.monotonic() < deadline, f"too slow: {n} sessions"
                with socket.create_connection(srv.address, timeout=10) as sock:
                    job_id, ntime, _ = _handshake(sock)
                    sock.sendall(b'{"id":3,"method":"mining.submit","params":["m","%s","00000001","%s",'
                                 b'"00000001"]}\n' % (job_id.encode(), ntime.encode()))
                    assert b'"result":true' in sock.recv(65536)
                    if n % 100 == 0:
                        refs.extend(weakref.ref(s) for s in server.call(lambda: list(pool.sessions.values())))
                if n == 100:
                    rss0 = rss_mb()
            wait_until = time.monotonic() + 5
            while server.connection_count and time.monotonic() < wait_until:
                time.sleep(0.05)
            time.sleep(0.3)  # let the sweeper run (it used to keep the last connection)
            alive = server.call(lambda: sum(r() is not None for r in refs))
            growth = rss_mb() - rss0
        finally:
            gc.enable()
    assert not pool.sessions
    assert alive == 0, f"{alive} of {len(refs)} closed sessions still alive without a GC pass"
    assert growth < FLAT_MB, f"RSS grew {growth:.1f} MB over 900 sessions"
    print(f"\n1000 sessions: RSS growth after 100 {growth:+.2f} MB")


def test_submits_over_tcp_keep_memory_flat() -> None:
    """A shorter run of the same through a real socket (one connection, pipelined)."""
    pool, counts = make_pool()
    total, warmup, window = 150_000, 30_000, 2_000
    with ServerThread(pool, kernel_timestamps=False) as srv, \
            socket.create_connection(srv.address, timeout=10) as sock:
        job_id, ntime, _ = _handshake(sock)
        sent = answered = 0
        buf = b""
        rss0 = 0.0
        deadline = time.monotonic() + 60
        while answered < total and time.monotonic() < deadline:
            if sent - answered < window // 2 and sent < total:
                k = min(window, total - sent)
                sock.sendall(b"".join(
                    b'{"id":%d,"method":"mining.submit","params":["m","%s","00000001","%s","%08x"]}\n'
                    % (i, job_id.encode(), ntime.encode(), i) for i in range(sent, sent + k)))
                sent += k
            data = sock.recv(1 << 20)
            assert data, "pool closed the connection"
            buf += data
            cut = buf.rfind(b"\n") + 1
            lines, buf = buf[:cut], buf[cut:]
            answered += lines.count(b'"result":') + lines.count(b'"error":[')
            if b"mining.notify" in lines:  # a full job was replaced
                msg = json.loads(lines[lines.rfind(b"\n", 0, lines.rfind(b"mining.notify")) + 1:]
                                 .split(b"\n")[0])
                job_id, ntime = msg["params"][0], msg["params"][7]
            if rss0 == 0.0 and answered >= warmup:
                gc.collect()
                rss0 = rss_mb()
        gc.collect()
        growth = rss_mb() - rss0
    assert answered >= total, f"only {answered} answers in time"
    assert growth < FLAT_MB, f"RSS grew {growth:.1f} MB over {total - warmup} submits over TCP"
    print(f"\n{total} submits over TCP: RSS growth after warm-up {growth:+.2f} MB, events {counts[0]}")


def test_sweeper_does_not_keep_the_last_connection_alive() -> None:
    """A connection the timeout sweeper looked at is freed once closed (the sweeper used
    to keep its last loop variable, and with it the connection and session, alive)."""
    pool, _ = make_pool(handshake_timeout_s=0.4)  # the sweeper runs every 0.1 s
    with ServerThread(pool, kernel_timestamps=False) as srv:
        gc.collect()
        gc.disable()
        try:
            with socket.create_connection(srv.address, timeout=10) as sock:
                _handshake(sock)
                ref = srv.server.call(lambda: weakref.ref(next(iter(pool.sessions.values()))))
                time.sleep(0.35)  # the sweeper looks at this connection several times
            deadline = time.monotonic() + 5
            while srv.server.connection_count and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.35)  # and sleeps again with no connection left
            alive = srv.server.call(lambda: ref() is not None)
        finally:
            gc.enable()
    assert not alive, "the closed session is still alive without a GC pass"
