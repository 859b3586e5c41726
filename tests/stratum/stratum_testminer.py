"""A small blocking CPU miner for loopback tests (built on the sans-IO ClientSession)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from asic_bridge.events import ShareOutcome
from asic_bridge.stratum.client import (
    ClientEvent,
    ClientSession,
    NewDifficulty,
    NewJob,
    ShareResult,
    scan_nonces,
)
from asic_bridge.stratum.messages import LineSplitter


class TestMiner:
    """Connects to 127.0.0.x, speaks Stratum through ClientSession, mines on the CPU."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        address: tuple[str, int],
        *,
        user: str = "tester",
        timeout_s: float = 10.0,
        **client: Any,
    ) -> None:
        self.sock = socket.create_connection(address, timeout=timeout_s)
        self.timeout_s = timeout_s
        self.client = ClientSession(user=user, **client)
        self.splitter = LineSplitter()
        self.lines: list[bytes] = []
        self.events: list[ClientEvent] = []
        self.results: dict[int, ShareOutcome] = {}
        self.en2_counter = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TestMiner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """Next raw line from the pool (blocking up to timeout_s)."""
        deadline = time.monotonic() + self.timeout_s
        while not self.lines:
            if time.monotonic() > deadline:
                raise TimeoutError("no line from the pool")
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("pool closed the connection")
            self.lines.extend(self.splitter.feed(data))
        return self.lines.pop(0)

    def read_json(self) -> dict[str, Any]:
        return json.loads(self.read_line())

    def pump(self) -> list[ClientEvent]:
        """Read one line and digest it with the client session."""
        events, reply = self.client.feed_line(self.read_line())
        if reply:
            self.send(reply)
        for event in events:
            if isinstance(event, ShareResult):
                self.results[event.msg_id] = event.outcome
        self.events.extend(events)
        return events

    def wait_for(self, kind: type, count: int = 1) -> list[Any]:
        got: list[Any] = [e for e in self.events if isinstance(e, kind)]
        while len(got) < count:
            got.extend(e for e in self.pump() if isinstance(e, kind))
        return got

    def handshake(self) -> None:
        """Configure/subscribe/authorize and wait for the first difficulty and job."""
        self.send(self.client.handshake())
        self.wait_for(NewDifficulty)
        self.wait_for(NewJob)

    def next_extranonce2(self) -> bytes:
        self.en2_counter += 1
        return self.en2_counter.to_bytes(self.client.extranonce2_size, "little")

    def mine(self, nonces: int, *, version_bits: int | None = None) -> list[int]:
        """Scan ``nonces`` nonces of the current job at the current difficulty, submit
        every share found; returns the submit ids."""
        job = self.client.job
        assert job is not None and self.client.extranonce1 is not None
        en2 = self.next_extranonce2()
        version = job.version ^ (version_bits or 0)
        found = scan_nonces(
            job,
            self.client.extranonce1,
            en2,
            ntime=job.ntime,
            version=version,
            start=0,
            count=nonces,
            difficulty=self.client.difficulty,
        )
        ids = []
        for nonce, _ in found:
            msg_id, line = self.client.submit(job.job_id, en2, job.ntime, nonce, version_bits)
            self.send(line)
            ids.append(msg_id)
        return ids

    def wait_results(self, ids: list[int]) -> list[ShareOutcome]:
        while not all(i in self.results for i in ids):
            self.pump()
        return [self.results[i] for i in ids]
