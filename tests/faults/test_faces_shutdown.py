"""Faces shut down within about a second of their deadline or a signal, whatever their
clients do: an idle keep-alive HTTP client, a client that sent half a cgminer request,
one that sent nothing (loopback only; every wait bounded)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from emulator.faces import StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.http_api import AxeOSFace

ROOT = Path(__file__).resolve().parents[2]
CLOSE_S = 1.0  # the promise
MARGIN_S = 1.0  # for a loaded 2-core machine


def idle_clients(host: str, port: int, stack: ExitStack, *, http: bool) -> None:
    """Three clients that never finish: one keep-alive HTTP client after a full
    request (or a half-sent cgminer request), one that sent a partial line, one that
    sent nothing."""
    first = stack.enter_context(socket.create_connection((host, port), timeout=5))
    if http:
        first.sendall(b"GET /api/system/info HTTP/1.1\r\nHost: x\r\n\r\n")
        assert first.recv(100).startswith(b"HTTP/1.1 200")  # now idle, kept alive
    else:
        first.sendall(b'{"command": "summ')
    partial = stack.enter_context(socket.create_connection((host, port), timeout=5))
    partial.sendall(b"GET /api/sys" if http else b"{")
    stack.enter_context(socket.create_connection((host, port), timeout=5))
    time.sleep(0.2)  # the handlers are now blocked on those clients


@pytest.mark.parametrize("kind", ["http", "cgminer"])
def test_close_returns_within_a_second_with_idle_clients(kind: str) -> None:
    source = StaticSnapshotSource.for_model("lv06" if kind == "http" else "s9")
    face = AxeOSFace(source, port=0) if kind == "http" else CgminerFace(source, port=0)
    with ExitStack() as stack:
        face.start()
        idle_clients(face.host, face.port, stack, http=kind == "http")
        t0 = time.monotonic()
        face.close()
        took = time.monotonic() - t0
    assert took < CLOSE_S, f"{kind} face took {took:.2f} s to close"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulate(*args: str) -> Iterator[tuple[subprocess.Popen[str], float]]:
    """``hashrc emulate ARGS`` as a subprocess; yields it and the monotonic time its face
    was up (its first output line); always reaped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asic_bridge.cli", "emulate", *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""  # blocks until the face is up
        assert "Face:" in line, f"no face line: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield proc, time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("kind", ["http", "cgminer"])
def test_emulate_exits_at_its_duration_with_an_idle_client(kind: str) -> None:
    port = free_port()
    model, flag = ("lv06", "--http") if kind == "http" else ("s9", "--cgminer")
    duration = 2.0
    with ExitStack() as stack:
        proc, up = stack.enter_context(
            emulate(model, flag, f"127.0.0.1:{port}", "--duration", str(duration)))
        idle_clients("127.0.0.1", port, stack, http=kind == "http")
        code = proc.wait(timeout=duration + 10)
        took = time.monotonic() - up
    assert code == 0
    assert took < duration + CLOSE_S + MARGIN_S, f"exited {took:.2f} s after start"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("kind", ["http", "cgminer"])
def test_emulate_stops_within_a_second_of_a_signal(kind: str, sig: signal.Signals) -> None:
    port = free_port()
    model, flag = ("lv06", "--http") if kind == "http" else ("s9", "--cgminer")
    with ExitStack() as stack:
        proc, _ = stack.enter_context(emulate(model, flag, f"127.0.0.1:{port}"))
        idle_clients("127.0.0.1", port, stack, http=kind == "http")
        t0 = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=10)
        took = time.monotonic() - t0
    assert took < CLOSE_S + MARGIN_S, f"{sig.name}: exited {took:.2f} s after the signal"
