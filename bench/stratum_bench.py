"""Stratum pool server benchmarks: throughput, submit-to-answer latency, kernel-to-parse gap.

    .venv/bin/python bench/stratum_bench.py throughput [--connections 1000] [--duration 5]
    .venv/bin/python bench/stratum_bench.py latency [--connections 1000] [--rate 1000]
    .venv/bin/python bench/stratum_bench.py flood --capture FILE [--connections 2] [--duration 5]

The server runs in this process (its own event-loop thread); the load generator runs in
a separate process (multiprocessing, spawn) with plain non-blocking sockets on loopback.
Shares are prepared before the timed phase: the pool difficulty is set so low (1e-10,
target capped at 2**256-1) that every nonce is a valid share, so the generator never
hashes; the server still fully validates each share (coinbase, merkle branch, 80-byte
header, SHA-256d, target, duplicate set). Figures are printed absolute and as ratios
against a bare hashlib SHA-256d loop over 80-byte headers measured in this process.

``flood`` sends submits as fast as the pool takes them (a deep pipeline per connection,
never waiting for answers beyond the window) into a capture, and reports the rows
committed per second and the worst time without a commit, against the same capture
writer fed by a thread of this process with no pool (its reference).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import multiprocessing as mp
import os
import resource
import selectors
import socket
import statistics
import sys
import time
from typing import Any

BENCH_DIFFICULTY = 1e-10
EN2_SIZE = 4


# --- load generator (runs in its own process) --------------------------------------------


def _connect_all(address: tuple[str, int], n: int) -> list[dict[str, Any]]:
    hello = (
        b'{"id":1,"method":"mining.subscribe","params":["bench"]}\n'
        b'{"id":2,"method":"mining.authorize","params":["bench","x"]}\n'
    )
    conns = []
    for _ in range(n):
        s = socket.create_connection(address, timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(hello)
        conns.append({"sock": s, "buf": b""})
    for c in conns:
        job_id = ntime = None
        while job_id is None:
            data = c["sock"].recv(65536)
            if not data:
                raise ConnectionError("server closed during handshake")
            c["buf"] += data
            *lines, c["buf"] = c["buf"].split(b"\n")
            for line in lines:
                msg = json.loads(line)
                if msg.get("id") == 1:
                    c["en1"] = msg["result"][1]
                elif msg.get("method") == "mining.notify":
                    job_id, ntime = msg["params"][0], msg["params"][7]
        c["job_id"], c["ntime"] = job_id, ntime
        c["sock"].setblocking(False)
    return conns


def _submit_line(c: dict[str, Any], msg_id: int, nonce: int) -> bytes:
    return b'{"id":%d,"method":"mining.submit","params":["bench","%s","%s","%s","%08x"]}\n' % (
        msg_id,
        c["job_id"].encode(),
        b"01000000",
        c["ntime"].encode(),
        nonce,
    )


def _throughput_generator(address: tuple[str, int], n: int, duration_s: float, window: int, out: Any) -> None:
    conns = _connect_all(address, n)
    sel = selectors.DefaultSelector()
    # prepare every share before the timed phase
    per_conn = int(150_000 * duration_s / n) + 4 * window
    for c in conns:
        c["lines"] = [_submit_line(c, i + 10, i) for i in range(per_conn)]
        c["next"] = 0
        c["outstanding"] = 0
        sel.register(c["sock"], selectors.EVENT_READ, c)
    out.put(("ready", None))
    accepted = rejected = 0
    t0 = time.perf_counter()
    t_end = t0 + duration_s
    for c in conns:
        chunk = b"".join(c["lines"][:window])
        c["next"] = window
        c["outstanding"] = window
        c["sock"].send(chunk)
    sending = True
    while True:
        now = time.perf_counter()
        if sending and now >= t_end:
            sending = False
            t_stop = now
        if not sending and all(c["outstanding"] == 0 for c in conns):
            break
        if now > t_end + 30:
            break
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c["sock"].recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("server closed a connection")
            buf = c["buf"] + data
            *lines, c["buf"] = buf.split(b"\n")
            ok = sum(1 for line in lines if b'"result":true' in line)
            answers = sum(1 for line in lines if line.startswith(b'{"id":') and b'"id":null' not in line)
            accepted += ok
            rejected += answers - ok
            c["outstanding"] -= answers
            if sending and answers:
                k = min(answers, len(c["lines"]) - c["next"])
                if k > 0:
                    c["sock"].send(b"".join(c["lines"][c["next"] : c["next"] + k]))
                    c["next"] += k
                    c["outstanding"] += k
    answered_in_window = accepted + rejected
    elapsed = t_stop - t0
    for c in conns:
        c["sock"].close()
    sel.close()
    out.put(
        (
            "result",
            {
                "accepted": accepted,
                "rejected": rejected,
                "elapsed_s": elapsed,
                "answered": answered_in_window,
            },
        )
    )


def _flood_generator(address: tuple[str, int], n: int, duration_s: float, window: int, out: Any) -> None:
    """Keep ``window`` submits in flight per connection for ``duration_s``; follow new jobs."""
    conns = _connect_all(address, n)
    sel = selectors.DefaultSelector()
    for c in conns:
        c["sent"] = c["answered"] = c["accepted"] = 0
        sel.register(c["sock"], selectors.EVENT_READ, c)

    def send(c: dict[str, Any]) -> None:
        room = window - (c["sent"] - c["answered"])
        if room >= window // 4:
            chunk = b"".join(_submit_line(c, 10 + i, i) for i in range(c["sent"], c["sent"] + room))
            view = memoryview(chunk)
            t_give_up = time.perf_counter() + 30
            while view and time.perf_counter() < t_give_up:
                try:
                    view = view[c["sock"].send(view):]
                except BlockingIOError:  # the pool stopped reading (back-pressure)
                    selectors.DefaultSelector().select(0.001)
            c["sent"] += room

    out.put(("ready", None))
    t0 = time.perf_counter()
    for c in conns:
        send(c)
    while time.perf_counter() - t0 < duration_s:
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c["sock"].recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("server closed a connection")
            buf = c["buf"] + data
            cut = buf.rfind(b"\n") + 1
            c["buf"], lines = buf[cut:], buf[:cut]
            c["accepted"] += lines.count(b'"result":true')
            c["answered"] += lines.count(b'{"id":') - lines.count(b'{"id":null')
            notify = lines.rfind(b'"mining.notify"')
            if notify >= 0:
                start = lines.rfind(b"\n", 0, notify) + 1
                params = json.loads(lines[start : lines.index(b"\n", notify)])["params"]
                c["job_id"], c["ntime"] = params[0], params[7]
            send(c)
    elapsed = time.perf_counter() - t0
    for c in conns:
        c["sock"].close()
    sel.close()
    out.put(("result", {"accepted": sum(c["accepted"] for c in conns),
                        "answered": sum(c["answered"] for c in conns), "elapsed_s": elapsed}))


def _writer_reference(path: str, seconds: float) -> dict[str, float]:
    """The capture writer alone: a thread of this process writing share events as fast as
    the writer's back-pressure lets it, for ``seconds``."""
    import threading

    from asic_bridge.capture import CaptureWriter
    from asic_bridge.events import ShareEvent, ShareOutcome, TimestampSource

    events = [
        ShareEvent(time.time_ns(), "bench/00000001", "1", i, BENCH_DIFFICULTY, 3.0,
                   ShareOutcome.ACCEPTED, 0, None, None, TimestampSource.KERNEL, 1)
        for i in range(10_000)
    ]
    commits: list[float] = []
    writer = CaptureWriter(path, metadata={"device_model": "bench"}, overwrite=True,
                           on_commit=lambda _n: commits.append(time.perf_counter()))

    def produce() -> None:
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            writer.write_many(events)

    t0 = time.perf_counter()
    thread = threading.Thread(target=produce)
    thread.start()
    thread.join()
    t1 = time.perf_counter()
    committed = writer.committed
    writer.close()
    marks = [t0, *[t for t in commits if t <= t1]]
    return {"rows_s": committed / (t1 - t0), "gap_s": max(b - a for a, b in itertools.pairwise(marks))}


def _latency_generator(address: tuple[str, int], n: int, rate: float, count: int, out: Any) -> None:
    conns = _connect_all(address, n)
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c["sock"], selectors.EVENT_READ, c)
        c["sent"] = {}
    out.put(("ready", None))
    latencies: list[int] = []
    period = 1.0 / rate
    t_next = time.perf_counter()
    sent = 0
    nonce = 0
    while len(latencies) < count:
        now = time.perf_counter()
        if sent < count and now >= t_next:
            c = conns[sent % n]
            msg_id = 100 + sent
            nonce += 1
            line = _submit_line(c, msg_id, nonce)
            c["sent"][msg_id] = time.perf_counter_ns()
            c["sock"].send(line)
            sent += 1
            t_next += period
            continue
        timeout = max(0.0, t_next - time.perf_counter()) if sent < count else 1.0
        for key, _ in sel.select(timeout=min(timeout, 1.0)):
            c = key.data
            t_rx = time.perf_counter_ns()
            data = c["sock"].recv(65536)
            buf = c["buf"] + data
            *lines, c["buf"] = buf.split(b"\n")
            for line in lines:
                msg = json.loads(line)
                t0 = c["sent"].pop(msg.get("id"), None)
                if t0 is not None:
                    latencies.append(t_rx - t0)
    for c in conns:
        c["sock"].close()
    sel.close()
    out.put(("result", {"latencies_ns": latencies}))


# --- server side ---------------------------------------------------------------------------


def _hashlib_reference(seconds: float = 1.0) -> float:
    """Bare SHA-256d of 80-byte headers per second in this process."""
    header = bytearray(os.urandom(80))
    sha = hashlib.sha256
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(1000):
            header[76:80] = i.to_bytes(4, "little")
            sha(sha(header).digest()).digest()
        n += 1000
    return n / (time.perf_counter() - t0)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _raise_fd_limit(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["throughput", "latency", "flood"])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0, help="timed phase, seconds")
    parser.add_argument("--window", type=int, default=16, help="submits in flight per connection")
    parser.add_argument("--window-flood", type=int, default=4000, help="flood mode: submits in flight")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency mode: shares/s")
    parser.add_argument("--count", type=int, default=10_000, help="latency mode: shares")
    parser.add_argument("--capture", default=None, help="also record into this capture file")
    parser.add_argument(
        "--switch-interval", type=float, default=None, help="sys.setswitchinterval for the server process (s)"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from asic_bridge.capture import CaptureWriter
    from asic_bridge.events import ShareEvent, ShareOutcome
    from asic_bridge.stratum.jobs import SyntheticJobSource
    from asic_bridge.stratum.pool import Pool, PoolConfig
    from asic_bridge.stratum.server import ServerThread

    _raise_fd_limit(4 * args.connections + 100)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.mode == "flood":
        return _flood_main(args)
    reference = _hashlib_reference()
    events: list[Any] = []
    counts = {"accepted": 0, "other": 0}
    capture = (
        CaptureWriter(args.capture, metadata={"device_model": "bench"}, overwrite=True)
        if args.capture
        else None
    )

    def sink(event: Any) -> None:
        if isinstance(event, ShareEvent):
            if event.outcome is ShareOutcome.ACCEPTED:
                counts["accepted"] += 1
            else:
                counts["other"] += 1
            if args.mode == "latency":
                events.append((event.t_ns, event.t_parse_mono_ns, event.t_source))
        if capture is not None:
            capture.write(event)

    config = PoolConfig(
        difficulty=BENCH_DIFFICULTY,
        min_difficulty=BENCH_DIFFICULTY,
        extranonce2_size=EN2_SIZE,
        job_interval_s=None,
        handshake_timeout_s=120.0,
    )
    pool = Pool(config, job_source=SyntheticJobSource(extranonce_size=8, seed=1), sink=sink)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    with ServerThread(pool, backlog=4096) as srv:
        if args.mode == "throughput":
            proc = ctx.Process(
                target=_throughput_generator,
                args=(srv.address, args.connections, args.duration, args.window, out),
            )
        else:
            proc = ctx.Process(
                target=_latency_generator, args=(srv.address, args.connections, args.rate, args.count, out)
            )
        proc.start()
        assert out.get(timeout=300)[0] == "ready"
        connected = srv.server.connection_count
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        _, result = out.get(timeout=600)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        proc.join(30)
    if capture is not None:
        capture.close()
    print(f"server: {connected} connected miners, kernel timestamps: {srv.server.kernel_timestamps_active}")
    print(f"reference: bare hashlib SHA-256d of 80-byte headers: {reference:,.0f} /s")
    if args.mode == "throughput":
        rate = result["answered"] / result["elapsed_s"]
        print(
            f"validated shares: {result['accepted']:,} accepted, {result['rejected']:,} rejected "
            f"in {result['elapsed_s']:.2f} s timed phase"
        )
        print(f"throughput: {rate:,.0f} validated shares/s ({rate / reference:.4f} x bare sha256d rate)")
        print(f"server process CPU: {cpu / wall:.2f} cores over {wall:.2f} s")
        print(f"server-side accepted events: {counts['accepted']:,}, other: {counts['other']:,}")
    else:
        lat = [x / 1000 for x in result["latencies_ns"]]
        print(
            f"submit-to-answer latency at {args.rate:.0f} shares/s over {args.connections} "
            f"connections: p50 {_pct(lat, 0.5):.1f} us, p99 {_pct(lat, 0.99):.1f} us, "
            f"max {max(lat):.1f} us (n={len(lat)})"
        )
        offsets = [time.time_ns() - time.monotonic_ns() for _ in range(1001)]
        offset = statistics.median(offsets)
        gaps = [(p + offset - t) / 1000 for t, p, _ in events]
        sources = {str(s) for _, _, s in events}
        print(
            f"parse time minus kernel receive time ({', '.join(sorted(sources))}): "
            f"p50 {_pct(gaps, 0.5):.1f} us, p99 {_pct(gaps, 0.99):.1f} us, max {max(gaps):.1f} us "
            f"(n={len(gaps)}; ratio p99/p50 {_pct(gaps, 0.99) / _pct(gaps, 0.5):.1f})"
        )
        print(f"reference: one bare sha256d = {1e6 / reference:.2f} us")
    return 0


def _flood_main(args: argparse.Namespace) -> int:
    from asic_bridge.capture import CaptureReader, CaptureWriter
    from asic_bridge.stratum.jobs import SyntheticJobSource
    from asic_bridge.stratum.pool import Pool, PoolConfig
    from asic_bridge.stratum.server import ServerThread

    if not args.capture:
        raise SystemExit("flood mode needs --capture FILE")
    ref = _writer_reference(args.capture + ".ref", args.duration)
    for suffix in ("", "-wal", "-shm"):
        with __import__("contextlib").suppress(FileNotFoundError):
            os.unlink(args.capture + ".ref" + suffix)
    commits: list[tuple[float, int]] = []
    capture = CaptureWriter(args.capture, metadata={"device_model": "bench"}, overwrite=True,
                            on_commit=lambda n: commits.append((time.perf_counter(), n)))
    config = PoolConfig(difficulty=BENCH_DIFFICULTY, min_difficulty=BENCH_DIFFICULTY,
                        extranonce2_size=EN2_SIZE, job_interval_s=None, handshake_timeout_s=120.0)
    pool = Pool(config, job_source=SyntheticJobSource(extranonce_size=8, seed=1), sink=capture.write,
                congested=capture.is_congested)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    with ServerThread(pool, backlog=4096) as srv:
        proc = ctx.Process(target=_flood_generator,
                           args=(srv.address, args.connections, args.duration, args.window_flood, out))
        proc.start()
        assert out.get(timeout=300)[0] == "ready"
        t0 = time.perf_counter()
        _, result = out.get(timeout=600)
        t1 = t0 + result["elapsed_s"]
        proc.join(30)
        read_pauses = srv.server.read_pauses
    capture.close()
    with CaptureReader(args.capture) as reader:
        stats = reader.writer_stats()
    in_flood = [(t, n) for t, n in commits if t0 <= t <= t1]
    committed = (in_flood[-1][1] - (in_flood[0][1] if in_flood else 0)) if in_flood else 0
    span = (in_flood[-1][0] - in_flood[0][0]) if len(in_flood) > 1 else result["elapsed_s"]
    marks = [t0, *[t for t, _ in in_flood], t1]
    gap = max(b - a for a, b in itertools.pairwise(marks))
    rows_s = committed / span if span > 0 else 0.0
    print(f"flood: {args.connections} connections x {args.window_flood} submits in flight, "
          f"{result['elapsed_s']:.1f} s; pool answered {result['answered'] / result['elapsed_s']:,.0f} /s "
          f"({result['accepted']:,} accepted)")
    print(f"committed rows/s under flood: {rows_s:,.0f} "
          f"({rows_s / ref['rows_s']:.2f} x the writer alone: {ref['rows_s']:,.0f} rows/s, "
          f"gap {ref['gap_s']:.3f} s)")
    print(f"worst time without a commit during the flood (commit callbacks): {gap:.3f} s "
          f"(batch interval {capture.batch_interval_s} s)")
    print(f"writer figures: {stats}")
    print(f"server: reading paused {read_pauses} times for the capture to catch up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
