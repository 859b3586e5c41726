"""Experiment runs started from the dashboard (no Streamlit): each is a ``hashrc``
sub-process writing into the captures folder, with its output in ``DIR/run.log``.

Cancelling sends SIGINT, which every run command answers by keeping what it captured
and saying how much; the page then shows that last line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from asic_bridge.models import SPECS
from dashboard.data import inside

MAX_RUNNING = 2
KINDS: dict[str, str] = {
    "narma": "NARMA-10 reservoir experiment (hashrc narma)",
    "mc": "memory capacity (hashrc mc)",
    "sweep": "timing sweep (hashrc sweep)",
    "tpf": "early-abort energy filter (hashrc tpf)",
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


@dataclass(slots=True)
class Run:
    name: str
    kind: str
    out: Path
    command: list[str]
    process: subprocess.Popen[bytes]
    started_s: float = field(default_factory=time.time)
    cancelled: bool = False

    @property
    def log(self) -> Path:
        return self.out / "run.log"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, max_chars: int = 2000) -> str:
        """The end of the run's output; a progress bar's carriage returns keep only the
        newest state of each line."""
        try:
            with self.log.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 20_000))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line.split("\r")[-1] for line in text.split("\n")]
        return "\n".join(lines)[-max_chars:]

    def cancel(self) -> None:
        if self.running:
            self.cancelled = True
            self.process.send_signal(signal.SIGINT)


def build_command(kind: str, device: str, out: Path, *, steps: int | None = None,
                  encoding: str | None = None, seeds: int | None = None) -> list[str]:
    """The ``hashrc`` command line of a run (each command takes only its own options:
    the filter runs on SHA-256 alone, memory capacity on an emulated model)."""
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}; kinds: {sorted(KINDS)}")
    command = [sys.executable, "-m", "asic_bridge.cli", kind, "--out", str(out)]
    if kind == "tpf":
        return [*command, "--quick"]
    if kind == "mc":
        model = device.removeprefix("emu://").split("?")[0]
        if model not in SPECS:
            raise ValueError(f"memory capacity runs on an emulated model ({', '.join(SPECS)}), "
                             f"not {device!r}")
        device = model
    command += ["--device", device]
    if kind in ("narma", "mc"):
        if steps is not None:
            command += ["--steps", str(int(steps))]
        if encoding:
            command += ["--encoding", encoding]
        if seeds is not None:
            command += ["--seeds", str(int(seeds))]
    return command


class RunManager:
    """At most :data:`MAX_RUNNING` runs at once, each into a new folder under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self.runs: dict[str, Run] = {}

    def start(self, kind: str, device: str, name: str, **options: object) -> Run:
        if not _NAME.match(name):
            raise ValueError(f"run name {name!r}: use 1-80 letters, digits, '.', '_' or '-'")
        out = inside(self.root, self.root / name)
        with self._lock:
            if sum(r.running for r in self.runs.values()) >= MAX_RUNNING:
                raise ValueError(f"{MAX_RUNNING} runs are going already; wait or cancel one")
            if out.exists() or name in self.runs:
                raise ValueError(f"{out} exists; choose another run name")
            out.mkdir(parents=True)
            command = build_command(kind, device, out, **options)  # type: ignore[arg-type]
            with (out / "run.log").open("wb") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL)
            run = Run(name, kind, out, command, process)
            self.runs[name] = run
            return run

    def close(self) -> None:
        for run in self.runs.values():
            run.cancel()
        for run in self.runs.values():
            try:
                run.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                run.process.kill()
