"""Timeouts, malformed JSON, dropped connections: clear errors, counters, the poller
goes on and nothing recorded is lost."""

from __future__ import annotations

import time

import pytest

from asic_bridge.api.backends import open_axeos, open_cgminer, open_goldshell
from asic_bridge.api.transport import DeviceTimeout, LinkError
from asic_bridge.capture.store import CaptureWriter, open_capture
from asic_bridge.errors import ProtocolError
from emulator.faces import StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import AxeOSFace

FAST = "period_s=0.05&timeout_s=0.3&retries=1"


def wait_until(check, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("kind", ["axeos", "cgminer", "goldshell"])
def test_malformed_then_recovers(kind: str) -> None:
    faces = {"axeos": (AxeOSFace, "lv06", open_axeos), "cgminer": (CgminerFace, "s9", open_cgminer),
             "goldshell": (GoldshellFace, "lbbox", open_goldshell)}
    face_cls, model, opener = faces[kind]
    with face_cls(StaticSnapshotSource.for_model(model), port=0) as face:
        device = opener(f"{face.url}?{FAST}", start=False)
        try:
            face.faults.malformed = True
            with pytest.raises(ProtocolError, match="JSON"):
                device.poll_now()
            device.start()
            assert wait_until(lambda: device.stats.get("protocol_errors", 0) >= 3)
            assert device.stats.get("samples", 0) == 0
            face.faults.malformed = False
            assert device.wait_for_sample(3.0)
            assert device.stats["samples"] >= 1
        finally:
            device.close()


def test_timeout_counts_retries_and_poller_keeps_going() -> None:
    with AxeOSFace(StaticSnapshotSource(), port=0) as face:
        face.faults.delay_s = 1.0
        device = open_axeos(f"{face.url}?{FAST}", start=False)
        try:
            started = time.monotonic()
            with pytest.raises(DeviceTimeout, match=r"no complete reply within 0\.3 s"):
                device.poll_now()
            assert time.monotonic() - started < 1.5
            assert device.stats["timeouts"] == 2 and device.stats["retries"] == 1
            device.start()
            assert wait_until(lambda: device.stats["poll_failures"] >= 2)
            face.faults.delay_s = 0.0
            assert device.wait_for_sample(3.0)
            assert isinstance(device.last_error, DeviceTimeout)
        finally:
            device.close()


def test_cgminer_timeout_and_dropped_connection() -> None:
    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        device = open_cgminer(f"{face.url}?period_s=0.05&timeout_s=0.3&retries=0", start=False)
        face.faults.delay_s = 1.0
        with pytest.raises(DeviceTimeout):
            device.poll_now()
        face.faults.delay_s = 0.0
        face.faults.drop = True
        with pytest.raises(LinkError, match="closed without a reply"):
            device.poll_now()
        face.faults.drop = False
        assert device.poll_now()
        assert device.stats["timeouts"] == 1 and device.stats["link_errors"] == 1
        device.close()


def test_unreachable_device_is_a_link_error() -> None:
    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        url = face.url
    device = open_cgminer(f"{url}?period_s=0.05&timeout_s=0.3&retries=0", start=False)
    with pytest.raises(LinkError):
        device.poll_now()
    device.close()


def test_nothing_recorded_is_lost_across_faults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, port=0, restart_s=0.2) as face:
        device = open_axeos(f"{face.url}?{FAST}&restart_timeout_s=5")
        written = 0
        with CaptureWriter(tmp_path / "c.sqlite", metadata={"device": "lv06"}) as writer:
            try:
                assert device.wait_for_sample(3.0)
                face.faults.malformed = True
                assert wait_until(lambda: device.stats.get("protocol_errors", 0) >= 2)
                face.faults.malformed = False
                device.set_knob("frequency", 550, "MHz")
                assert device.wait_for_sample(3.0)
            finally:
                device.close()
            for event in device.events():
                writer.write(event)
                written += 1
            samples = device.stats["samples"]
        with open_capture(tmp_path / "c.sqlite") as reader:
            assert reader.count("control") == 1
            failures = reader.count("status")  # every failed poll is in the capture
            assert failures >= 1
            assert reader.count("telemetry") + 1 + failures == written
            per_sample = reader.count("telemetry") / samples
            assert per_sample == int(per_sample)  # whole samples only


# -- issue 8: a deadline per request, bounded replies, every failed poll recorded -------


class _RawServer:
    """A loopback TCP server answering each connection with ``reply(conn)`` in a thread;
    every loop is bounded in count and time."""

    def __init__(self, reply) -> None:  # type: ignore[no-untyped-def]
        import socket
        import threading

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._reply = reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 30.0
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(65536)
                    self._reply(conn, self._stop)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._sock.close()


def _drip(conn, stop) -> None:  # type: ignore[no-untyped-def]
    """One byte every 50 ms, for at most 10 s: never a complete reply."""
    reply = b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"hashRate": 1' + b" " * 10_000
    for byte in reply[:200]:
        if stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def _huge(conn, stop) -> None:  # type: ignore[no-untyped-def]
    """A 50 MB body (sent as far as the client reads)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
    chunk = b"[" * 65536
    for _ in range(800):
        if stop.is_set():
            return
        conn.sendall(chunk)


def _status_500(conn, stop) -> None:  # type: ignore[no-untyped-def]
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno")


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_a_dripping_server_fails_the_poll_at_the_deadline(kind: str) -> None:
    """Per-read timeouts would keep this poll open for 10 s; the deadline ends it."""
    server = _RawServer(_drip)
    try:
        opener = open_axeos if kind == "http" else open_cgminer
        scheme = "axeos" if kind == "http" else "cgminer"
        device = opener(f"{scheme}://127.0.0.1:{server.port}?timeout_s=0.5&retries=0",
                        start=False)
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # DeviceTimeout is also a TimeoutError
            device.poll_now()
        assert time.monotonic() - started < 1.5
        device.close()
    finally:
        server.close()


def test_a_huge_body_is_refused_not_buffered() -> None:
    server = _RawServer(_huge)
    try:
        device = open_axeos(f"axeos://127.0.0.1:{server.port}?timeout_s=5&retries=0",
                            start=False)
        with pytest.raises(LinkError, match="exceeds"):
            device.poll_now()
        device.close()
    finally:
        server.close()


def test_every_failed_poll_is_counted_and_emitted_as_a_status_event() -> None:
    from asic_bridge.events import StatusEvent

    server = _RawServer(_status_500)
    try:
        device = open_axeos(f"axeos://127.0.0.1:{server.port}?{FAST}", start=False)
        device.start()
        assert wait_until(lambda: device.stats.get("poll_failures", 0) >= 3)
        device.close()
        failures = device.stats["poll_failures"]
        status = [e for e in device.events() if isinstance(e, StatusEvent)]
        assert status and all(e.status == "poll_failed" for e in status)
        assert "HTTP 500" in status[0].detail
        assert sum(e.count for e in status) == failures  # folded, none lost
        health = device.health()
        assert not health.answered and health.poll_failures == failures
    finally:
        server.close()


def test_a_device_that_never_answers_cannot_be_opened() -> None:
    from asic_bridge.device import open_device
    from asic_bridge.errors import DeviceUnreachable

    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0) as face:
        url = f"{face.url}?timeout_s=0.3&retries=0"
    with pytest.raises(DeviceUnreachable, match=r"cannot reach cgminer://127\.0\.0\.1:\d+.*refused"):
        open_device(url)
