"""SIGKILL of `hashrc pool --capture` under a flood keeps every share it answered `true`
more than one batch interval before the kill (loopback only; count- and time-bounded)."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from asic_bridge.capture import CaptureReader

BATCH_INTERVAL_S = 0.5  # CaptureWriter's default, used by `hashrc pool`
FLOOD_S = 3.0
MAX_SUBMITS = 400_000  # per connection
WINDOW = 4_000  # submits in flight per connection
CONNECTIONS = 2
TRUE = re.compile(rb'\{"id":(\d+),"result":true')
ANSWER = re.compile(rb'\{"id":(\d+),')


def free_port() -> int:
    """A loopback port free a moment ago (`--listen` takes ports 1-65535, not 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_pool(capture: Path, *extra: str) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    """`hashrc pool` on a free loopback port; returns the process and its address."""
    for _attempt in range(3):  # another process may take the port in between: retry
        proc = subprocess.Popen(
            [sys.executable, "-m", "asic_bridge.cli", "pool", "--listen", f"127.0.0.1:{free_port()}",
             "--capture", str(capture), "--overwrite", "--difficulty", "1e-10", "--job-interval", "0",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on ([\d.]+):(\d+)", line)
        if match is not None:
            return proc, (match.group(1), int(match.group(2)))
        proc.kill()
        _, err = proc.communicate(timeout=10)
        proc.stdout.close()
        proc.stderr.close()  # type: ignore[union-attr]
        if "in use" not in err:
            break
    raise AssertionError(f"pool did not start: {line!r} {err}")


class Miner:
    """One flooding connection: prepared submits, pipelined, answers parsed in bulk."""

    def __init__(self, address: tuple[str, int], user: str) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.user = user
        self.sock.sendall(
            b'{"id":1,"method":"mining.subscribe","params":["flood/1"]}\n'
            + b'{"id":2,"method":"mining.authorize","params":["%s","x"]}\n' % user.encode()
        )
        buf = b""
        self.en1 = self.job_id = self.ntime = None
        deadline = time.monotonic() + 10
        while self.job_id is None and time.monotonic() < deadline:
            buf += self.sock.recv(65536)
            *lines, buf = buf.split(b"\n")
            for line in lines:
                msg = json.loads(line)
                if msg.get("id") == 1:
                    self.en1 = msg["result"][1]
                elif msg.get("method") == "mining.notify":
                    self.job_id, self.ntime = msg["params"][0], msg["params"][7]
        assert self.job_id is not None, "no job from the pool"
        self.sock.setblocking(False)
        self.buf = b""
        self.sent = 0
        self.answered = 0
        self.accepted: dict[int, float] = {}  # nonce -> monotonic time its `true` arrived

    @property
    def device(self) -> str:
        return f"{self.user}/{self.en1}"

    def line(self, nonce: int) -> bytes:
        return b'{"id":%d,"method":"mining.submit","params":["%s","%s","00000001","%s","%08x"]}\n' % (
            nonce + 10, self.user.encode(), self.job_id.encode(), self.ntime.encode(), nonce,
        )

    def send_more(self) -> None:
        room = min(WINDOW - (self.sent - self.answered), MAX_SUBMITS - self.sent)
        if room >= WINDOW // 4 or (room > 0 and self.sent == 0):
            chunk = b"".join(self.line(n) for n in range(self.sent, self.sent + room))
            view = memoryview(chunk)
            while view:  # the pool may stop reading (back-pressure): wait, bounded
                try:
                    view = view[self.sock.send(view):]
                except BlockingIOError:
                    self.read(0.01)
            self.sent += room

    def read(self, _hint: float = 0.0) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError("pool closed the connection")
        now = time.monotonic()
        data = self.buf + data
        cut = data.rfind(b"\n") + 1
        self.buf, data = data[cut:], data[:cut]
        for msg_id in TRUE.findall(data):
            self.accepted[int(msg_id) - 10] = now
        self.answered += len(ANSWER.findall(data))
        notify = data.rfind(b'"method":"mining.notify"')
        if notify >= 0:  # a new job (e.g. the old one holds its limit of accepted shares)
            start = data.rfind(b"\n", 0, notify) + 1
            params = json.loads(data[start:data.index(b"\n", notify)])["params"]
            self.job_id, self.ntime = params[0], params[7]


def test_sigkill_under_flood_keeps_every_share_answered_a_batch_interval_before(tmp_path: Path) -> None:
    capture = tmp_path / "flood.sqlite"
    proc, address = start_pool(capture)
    miners: list[Miner] = []
    try:
        miners = [Miner(address, f"flood{i}") for i in range(CONNECTIONS)]
        sel = selectors.DefaultSelector()
        for m in miners:
            sel.register(m.sock, selectors.EVENT_READ, m)
            m.send_more()
        t_end = time.monotonic() + FLOOD_S
        while time.monotonic() < t_end:
            for key, _ in sel.select(0.05):
                m: Any = key.data
                m.read()
                m.send_more()
        t_kill = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        sel.close()
    finally:
        for m in miners:
            m.sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    answered_true = sum(len(m.accepted) for m in miners)
    assert answered_true > 20_000, f"not a flood: only {answered_true} shares answered in {FLOOD_S} s"
    with CaptureReader(capture) as reader:
        assert reader.integrity_ok()
        cols = reader.columns("shares")
        stored = {(r[cols.index("device")], r[cols.index("nonce")]) for r in reader.rows("shares")}
        stats = reader.writer_stats()
    safe = [(m.device, n, t) for m in miners for n, t in m.accepted.items() if t < t_kill - BATCH_INTERVAL_S]
    lost = [(d, n, t_kill - t) for d, n, t in safe if (d, n) not in stored]
    assert safe, "no share was answered a batch interval before the kill"
    assert not lost, (
        f"{len(lost)} of {len(safe)} shares answered > {BATCH_INTERVAL_S} s before SIGKILL are missing; "
        f"oldest answered {max(x[2] for x in lost):.2f} s before the kill; writer {stats}"
    )
    print(f"\nflood: {answered_true} answered true, {len(safe)} of them > {BATCH_INTERVAL_S} s before "
          f"SIGKILL, all {len(stored)} stored rows checked; writer {stats}")
