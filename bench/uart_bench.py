"""UART benchmarks: BM13xx replies parsed per second, the time from a nonce reply's
last byte leaving the far end to its ShareEvent reaching the sink (recorded into a
capture file), over loopback TCP (socket://) and a pty, and the driver's memory under a
flood of valid register replies (none waiting for them, then a stalled read).

Run: .venv/bin/python bench/uart_bench.py [--frames N] [--samples N]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import tempfile
import threading
import time
import tty
from pathlib import Path

from asic_bridge.capture.store import CaptureWriter
from asic_bridge.events import Event, ShareEvent
from asic_bridge.serial import codec
from asic_bridge.serial.chain import ChainDriver
from asic_bridge.serial.chips import BM1366
from asic_bridge.serial.codec import Job, NonceReply, ReplyStreamParser
from emulator.mining import search_chip_nonce

PROOF = 2.0**-20


def _stream(frames: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    parts = []
    for _ in range(frames):
        raw = rng.getrandbits(32).to_bytes(4, "big")
        parts.append(codec.encode_nonce_reply(NonceReply(raw, 0, rng.randrange(256), 0)))
        if rng.random() < 0.01:
            parts.append(b"\x00\x13\x37")  # a little garbage
    return b"".join(parts)


def bench_parse(frames: int) -> dict[str, float]:
    data = _stream(frames)
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    # reference 1: bare CRC5 over each frame body, frames pre-cut
    cut = [data[i : i + 11] for i in range(0, len(data) - 11, 11)][:frames]
    t0 = time.perf_counter()
    for f in cut:
        codec.crc5(f[2:])
    t_crc = time.perf_counter() - t0
    # reference 2: bytes.find scan for every preamble
    t0 = time.perf_counter()
    pos, hits = 0, 0
    while (pos := data.find(b"\xaa\x55", pos)) >= 0:
        hits += 1
        pos += 2
    t_find = time.perf_counter() - t0
    # the stream parser
    parser = ReplyStreamParser()
    t0 = time.perf_counter()
    got = 0
    for c in chunks:
        got += len(parser.feed(c))
    t_parse = time.perf_counter() - t0
    # parser + decode (what the reader thread does before hashing)
    parser = ReplyStreamParser()
    t0 = time.perf_counter()
    for c in chunks:
        for f in parser.feed(c):
            codec.parse_reply(f)
    t_decode = time.perf_counter() - t0
    return {
        "frames": got,
        "parse_fps": got / t_parse,
        "parse_decode_fps": got / t_decode,
        "crc_loop_fps": len(cut) / t_crc,
        "find_scan_fps": hits / t_find,
        "parse_vs_crc_loop": t_crc / len(cut) / (t_parse / got),
        "garbage_bytes": float(parser.dropped["garbage_bytes"]),
    }


JOB = dict(version=0x20000000, prev_hash=bytes(range(32)), merkle_root=bytes(range(32, 64)),
           ntime=1_700_000_000, nbits=0x1705DD01)


def _nonces(job: Job, n: int) -> list[bytes]:
    out = []
    rng = random.Random(2)
    while len(out) < n:
        reply, _ = search_chip_nonce(BM1366, job, address=0, core=rng.randrange(112),
                                start=rng.randrange(1 << 17), difficulty=PROOF, version_mask=0)
        if reply is not None:
            out.append(codec.encode_nonce_reply(reply))
    return out


def _percentiles(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[98], xs[-1]


def bench_latency(kind: str, samples: int, tmp: Path) -> dict[str, float]:
    """Write nonce replies one by one; latency = sink call time - time before the write."""
    sent: dict[int, int] = {}
    to_sink: list[int] = []
    to_stamp: list[int] = []
    done = threading.Event()
    writer = CaptureWriter(tmp / f"lat-{kind}.db", metadata={"bench": "uart"}, overwrite=True)

    def sink(ev: Event) -> None:
        if isinstance(ev, ShareEvent):
            now = time.time_ns()
            writer.write(ev)
            t_sent = sent.get(ev.nonce)
            if t_sent is not None:
                to_sink.append(now - t_sent)
                to_stamp.append(ev.t_ns - t_sent)
                if len(to_sink) >= samples:
                    done.set()

    if kind == "tcp":
        server = socket.create_server(("127.0.0.1", 0))
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
    else:
        master, slave = os.openpty()
        tty.setraw(slave)
        url = os.ttyname(slave)
    drv = ChainDriver(url, sink=sink).open()
    drv.emulated = True  # the far end stands for an emulated chain: sub-1 tickets allowed
    drv.set_ticket_difficulty(PROOF)  # verified against what was written
    if kind == "tcp":
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def write(b: bytes) -> None:
            conn.sendall(b)
    else:

        def write(b: bytes) -> None:
            os.write(master, b)
    try:
        job = drv.send_job(**JOB)
        frames = _nonces(job, samples)
        time.sleep(0.05)
        for f in frames:
            nonce = NonceReply(f[2:6], 0, 0, 0).nonce
            sent[nonce] = time.time_ns()  # just before the write: includes the syscall
            write(f)
            time.sleep(0.001)
        done.wait(5.0)
    finally:
        drv.close()
        writer.close()
        if kind == "tcp":
            conn.close()
            server.close()
        else:
            os.close(master)
            os.close(slave)
    p50, p99, mx = _percentiles([x / 1000 for x in to_sink])
    s50, s99, _ = _percentiles([x / 1000 for x in to_stamp])
    return {"n": len(to_sink), "p50_us": p50, "p99_us": p99, "max_us": mx,
            "stamp_p50_us": s50, "stamp_p99_us": s99}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_flood(frames: int) -> dict[str, float]:
    """``frames`` valid register replies with no read waiting, then as many into a read
    that never collects: replies handled per second, RSS growth, the most ever queued."""
    frame = codec.encode_register_reply(codec.RegisterReply(0x13660000, 0, 0x00))
    server = socket.create_server(("127.0.0.1", 0))
    drv = ChainDriver(f"socket://127.0.0.1:{server.getsockname()[1]}").open()
    conn, _ = server.accept()
    rss0, peak = _rss_mb(), 0
    t0 = time.perf_counter()
    try:
        for phase in (1, 2):
            if phase == 2:
                drv.registers.open()  # a read in progress whose caller never collects
            conn.sendall(frame * frames)
            deadline = time.monotonic() + 60
            while drv.counters["register_replies"] < phase * frames and time.monotonic() < deadline:
                peak = max(peak, drv.registers.qsize())
                time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        return {"replies": float(drv.counters["register_replies"]),
                "replies_per_s": drv.counters["register_replies"] / elapsed,
                "rss_growth_mb": _rss_mb() - rss0, "peak_queued": float(peak),
                "bound": float(drv.registers.maxsize),
                "dropped": float(drv.counters["unsolicited_registers"]
                                 + drv.counters["register_overflow"])}
    finally:
        drv.registers.close()
        drv.close()
        conn.close()
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--flood", type=int, default=500_000, help="register replies per phase")
    args = ap.parse_args()
    r = bench_parse(args.frames)
    print(f"parse: {r['parse_fps']:,.0f} replies/s (stream parser, 4 KiB chunks, 1% garbage)")
    print(f"parse+decode: {r['parse_decode_fps']:,.0f} replies/s")
    print(f"reference bare CRC5 loop: {r['crc_loop_fps']:,.0f} frames/s; "
          f"bytes.find preamble scan: {r['find_scan_fps']:,.0f} hits/s")
    print(f"ratio parser / bare CRC5 loop: {r['parse_vs_crc_loop']:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("tcp", "pty"):
            lat = bench_latency(kind, args.samples, Path(tmp))
            print(f"latency {kind}: n={lat['n']} write of the reply -> event in sink (and queued "
                  f"to capture): p50 {lat['p50_us']:.0f} us, p99 {lat['p99_us']:.0f} us, "
                  f"max {lat['max_us']:.0f} us; -> t_ns stamp: p50 {lat['stamp_p50_us']:.0f} us,"
                  f" p99 {lat['stamp_p99_us']:.0f} us")
    fl = bench_flood(args.flood)
    print(f"register-reply flood: {fl['replies']:,.0f} valid replies at {fl['replies_per_s']:,.0f}/s"
          f" (half with no read waiting, half into a stalled read): RSS +{fl['rss_growth_mb']:.1f}"
          f" MB, at most {fl['peak_queued']:.0f} queued (bound {fl['bound']:.0f}), "
          f"{fl['dropped']:,.0f} counted and dropped")


if __name__ == "__main__":
    main()
