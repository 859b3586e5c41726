"""Ordinary mistakes on every command that binds or writes: one line, exit code 2, no
traceback, and no capture left behind by a failed start (loopback only)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _hashrc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asic_bridge.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def busy_port() -> int:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_pool_on_a_busy_port_says_so_and_leaves_no_capture(tmp_path: Path, busy_port: int) -> None:
    out = tmp_path / "pool.sqlite"
    err = _one_line(_hashrc("pool", "--listen", f"127.0.0.1:{busy_port}", "--capture", str(out),
                            "--duration", "1"))
    assert "already in use" in err and f"127.0.0.1:{busy_port}" in err
    assert not out.exists()


def test_emulate_on_a_busy_port_says_so(busy_port: int) -> None:
    err = _one_line(_hashrc("emulate", "lv06", "--http", f"127.0.0.1:{busy_port}", "--duration", "1"))
    assert "already in use" in err


@pytest.mark.parametrize("command", [
    ("narma", "--device", "lv06", "--out"),
    ("capture", "--device", "emu://lv06", "--duration", "1", "--out"),
])
def test_an_output_under_a_file_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _one_line(_hashrc(*command, str(blocker / "out")))
    assert str(blocker) in err and "is a file" in err
