"""A real mosquitto broker on a free loopback port, for tests (`make test` installs it).

The configuration keeps bursts whole (``max_queued_messages 0``: no per-client queue
limit, ``set_tcp_nodelay true``) and persists sessions to a folder so a restart on the
same port keeps what it had acknowledged. The ``listener`` line binds 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One mosquitto process; :meth:`restart` stops it (SIGTERM, so it saves its
    sessions) and starts it again on the same port."""

    def __init__(self, folder: Path) -> None:
        if not Path(MOSQUITTO).exists():
            raise AssertionError("mosquitto is required (make test installs it)")
        self.port = free_port()
        self.folder = folder
        store = folder / "mosquitto-data"
        store.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            "set_tcp_nodelay true\n"
            "persistence true\n"
            f"persistence_location {store}/\n"
            "autosave_interval 1\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_s: float = 0.5) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
