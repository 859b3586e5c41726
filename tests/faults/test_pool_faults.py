"""The pool against faults and hostile input over loopback TCP: descriptor exhaustion,
a capture that can no longer grow (the process's file-size limit: a real I/O error),
JSON nested 30,000 deep, and floods of oversize fields."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from asic_bridge.capture import CaptureReader, CaptureWriter
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.server import ServerThread

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port free a moment ago (`--listen` takes ports 1-65535, not 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_pool(*args: str, preexec: Any = None) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    """`hashrc pool` on a free loopback port; returns the process and its address."""
    for _attempt in range(3):  # another process may take the port in between: retry
        proc = subprocess.Popen(
            [sys.executable, "-m", "asic_bridge.cli", "pool", "--listen", f"127.0.0.1:{free_port()}",
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on ([\d.]+):(\d+)", line)
        if match is not None:
            return proc, (match.group(1), int(match.group(2)))
        proc.kill()
        _, err = proc.communicate(timeout=10)
        if "in use" not in err:
            break
    raise AssertionError(f"pool did not start: {line!r} {err}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return proc.returncode, err


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def hello(sock: socket.socket, user: str = "m") -> tuple[str, str]:
    """Subscribe and authorize; the first job's id and ntime."""
    sock.sendall(b'{"id":1,"method":"mining.subscribe","params":["t"]}\n'
                 b'{"id":2,"method":"mining.authorize","params":["%s","x"]}\n' % user.encode())
    buf = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = sock.recv(65536)
        assert data, "pool closed during the handshake"
        buf += data
        for line in buf.split(b"\n")[:-1]:
            msg = json.loads(line)
            if msg.get("method") == "mining.notify":
                return msg["params"][0], msg["params"][7]
    raise TimeoutError("no job")


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))


def test_descriptor_exhaustion_backs_off_instead_of_spinning() -> None:
    proc, address = start_pool("--job-interval", "0", preexec=_low_fd_limit)
    socks: list[socket.socket] = []
    try:
        for _ in range(80):  # more than the pool can hold: the rest wait in the backlog
            socks.append(socket.create_connection(address, timeout=5))
        time.sleep(0.5)
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(2.0)
        busy = (cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0)
        assert busy < 0.25, f"pool used {busy:.0%} of a core while out of descriptors (spinning)"
        print(f"\nout of descriptors: pool used {busy:.1%} of a core")
        for s in socks[:40]:  # free descriptors: the waiting connections are served again
            s.close()
        hello(socks[-1])
    finally:
        for s in socks:
            s.close()
        _, err = stop(proc)
    assert "pausing new connections" in err and "Too many open files" in err
    assert err.count("pausing new connections") < 40, "logged on every wake-up"


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG) instead


def test_capture_that_cannot_grow_is_answered_not_fatal(tmp_path: Path) -> None:
    """The capture hits the process's file-size limit: the cause is logged at once,
    submits are answered "cannot record shares: <cause>", miners stay connected, a new
    miner can still connect, the job timer keeps going; exit names the cause."""
    capture = tmp_path / "full.sqlite"
    proc, address = start_pool("--capture", str(capture), "--difficulty", "1e-10",
                               "--job-interval", "0.5", preexec=_small_files)
    failure = None
    try:
        with socket.create_connection(address, timeout=10) as sock:
            job_id, ntime = hello(sock)
            buf = b""
            nonce = 0
            deadline = time.monotonic() + 30
            while failure is None and time.monotonic() < deadline and nonce < 400_000:
                sock.sendall(b"".join(
                    b'{"id":%d,"method":"mining.submit","params":["m","%s","00000001","%s","%08x"]}\n'
                    % (n, job_id.encode(), ntime.encode(), n) for n in range(nonce, nonce + 500)))
                nonce += 500
                got = 0
                while got < 500:
                    data = sock.recv(1 << 20)
                    assert data, "pool closed the miner's connection"
                    buf += data
                    cut = buf.rfind(b"\n") + 1
                    lines, buf = buf[:cut], buf[cut:]
                    got += len(re.findall(rb'\{"id":\d+,"result"', lines))
                    for line in lines.split(b"\n"):
                        if b"cannot record shares" in line:
                            failure = json.loads(line)["error"][1]
                        elif b"mining.notify" in line:
                            params = json.loads(line)["params"]
                            job_id, ntime = params[0], params[7]
            assert failure is not None, f"no failure after {nonce} submits"
            # still connected, the job timer still runs, a new miner is served
            sock.settimeout(5)
            seen_notify = False
            t_end = time.monotonic() + 5
            while not seen_notify and time.monotonic() < t_end:
                data = sock.recv(1 << 20)
                assert data, "pool closed the miner's connection"
                seen_notify = b"mining.notify" in data
            assert seen_notify, "job timer stopped after the capture failed"
            with socket.create_connection(address, timeout=10) as other:
                hello(other, "second")
    finally:
        code, err = stop(proc)
    print(f"\ncapture cannot grow: submits answered {failure!r}")
    assert "database or disk is full" in failure or "disk I/O error" in failure, failure
    assert "no transaction is active" not in failure + err
    assert "submits are answered with an error" in err  # said at once, not only at exit
    assert code == 2 and err.strip().splitlines()[-1].startswith("hashrc pool: error:")
    with CaptureReader(capture) as reader:
        assert reader.integrity_ok() and reader.count("shares") > 0


def _server(tmp_path: Path, **config: Any) -> tuple[ServerThread, CaptureWriter]:
    writer = CaptureWriter(tmp_path / "c.sqlite", metadata={})
    pool = Pool(PoolConfig(difficulty=1e-10, min_difficulty=1e-10, job_interval_s=None, **config),
                job_source=SyntheticJobSource(extranonce_size=8, seed=1), sink=writer.write,
                congested=writer.is_congested)
    return ServerThread(pool, kernel_timestamps=False), writer


def read_lines(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    buf = b""
    deadline = time.monotonic() + 10
    while buf.count(b"\n") < count and time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return [json.loads(x) for x in buf.split(b"\n") if x]


def test_deep_json_costs_that_line_only(tmp_path: Path) -> None:
    srv, writer = _server(tmp_path)
    with writer, srv, socket.create_connection(srv.server.address, timeout=10) as sock:
        sock.sendall(b"[" * 30_000 + b"\n" + b'{"id":5,"method":"mining.ping","params":[]}\n')
        first, second = read_lines(sock, 2)[:2]
        assert first["error"][0] == 20 and "nested" in first["error"][1]
        assert second == {"id": 5, "result": "pong", "error": None}
        assert srv.server.connection_count == 1


def test_oversize_fields_flood_keeps_memory_and_capture_small(tmp_path: Path) -> None:
    """Clients sending 60 KB user names and job ids over and over: each line is a bad
    line answered with an error, each connection closed after max_bad_lines, and
    neither the pool nor the capture grows with what they send."""
    srv, writer = _server(tmp_path, max_bad_lines=16)
    big = "x" * 60_000
    calls = [("mining.authorize", [big, "x"]), ("mining.submit", ["w", big, "00", "00", "00"])]
    lines = [
        json.dumps({"id": i, "method": calls[i % 2][0], "params": calls[i % 2][1]}).encode() + b"\n"
        for i in range(16)
    ]
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page / 1e6

    sent = 0
    with writer, srv:
        rss0 = 0.0
        deadline = time.monotonic() + 30
        for n in range(120):  # 120 connections x 16 lines x 60 KB = 115 MB sent
            assert time.monotonic() < deadline
            with socket.create_connection(srv.server.address, timeout=10) as sock:
                sock.sendall(b"".join(lines))
                sent += sum(map(len, lines))
                answers = read_lines(sock, 16)
                assert len(answers) == 16 and all(a["error"] for a in answers)
                assert sock.recv(1) == b""  # closed after the 16th bad line
            if n == 10:
                rss0 = rss()
        growth = rss() - rss0
    wal = Path(str(writer.path) + "-wal")
    size = writer.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert growth < 8, f"RSS grew {growth:.1f} MB while {sent / 1e6:.0f} MB of oversize fields arrived"
    assert size < 2_000_000, f"capture grew to {size} bytes"
    print(f"\noversize fields: {sent / 1e6:.0f} MB sent, RSS {growth:+.1f} MB, capture {size} bytes")
    with CaptureReader(writer.path) as reader:
        cols = reader.columns("shares")
        assert all(len(r[cols.index("job_id")]) <= 64 for r in reader.rows("shares"))


def test_server_stops_reading_while_the_sink_is_congested() -> None:
    """While the sink says it is congested the pool leaves a flooding client's bytes in
    the kernel (no answers, nothing queued); when it clears, every submit is answered."""
    congested = {"on": False}
    events: list[Any] = []
    pool = Pool(PoolConfig(difficulty=1e-10, min_difficulty=1e-10, job_interval_s=None),
                job_source=SyntheticJobSource(extranonce_size=8, seed=1), sink=events.append,
                congested=lambda: congested["on"])
    with ServerThread(pool, kernel_timestamps=False) as srv, \
            socket.create_connection(srv.server.address, timeout=10) as sock:
        job_id, ntime = hello(sock)
        before = len(events)
        congested["on"] = True
        n = 2_000
        sock.sendall(b"".join(
            b'{"id":%d,"method":"mining.submit","params":["m","%s","00000001","%s","%08x"]}\n'
            % (i, job_id.encode(), ntime.encode(), i) for i in range(n)))
        time.sleep(0.5)
        queued = len(events) - before
        sock.settimeout(0.2)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = b""
        assert queued == 0 and b'"result":true' not in early, "read while congested"
        assert srv.server.read_pauses >= 1
        congested["on"] = False
        sock.settimeout(10)
        buf = early
        deadline = time.monotonic() + 10
        while buf.count(b'"result":true') < n and time.monotonic() < deadline:
            buf += sock.recv(1 << 20)
        assert buf.count(b'"result":true') == n
