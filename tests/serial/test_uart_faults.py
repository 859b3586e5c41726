"""Fault tests against the emulated chain: CRC errors, garbage, dropped bytes, hardware
errors, a chip that stops answering, the link closing; and the face's own robustness."""

from __future__ import annotations

import logging
import os
import random
import socket
import time

import pytest
from uart_helpers import TICKET, FaceFactory, face_config, physics_for, wait_for

from asic_bridge.errors import DeviceError
from asic_bridge.events import Event, ShareEvent
from asic_bridge.serial.driver import ChainDriver
from emulator.faces.uart import ConstantPhysics, PtyUartFace, TcpUartFace

JOB = dict(version=0x20000000, prev_hash=bytes(range(32)), merkle_root=bytes(range(32, 64)),
           ntime=1_700_000_000, nbits=0x1705DD01)


def _driver(url: str, events: list[Event], **kw: object) -> ChainDriver:
    kw.setdefault("reconnect_timeout_s", 0.3)
    return ChainDriver(url, sink=events.append, **kw)  # type: ignore[arg-type]


def _shares(events: list[Event]) -> list[ShareEvent]:
    return [e for e in events if isinstance(e, ShareEvent)]


def test_crc_errors_and_garbage_are_counted_and_skipped(make_face: FaceFactory) -> None:
    face, url = make_face(chips=2, rate=3.0)
    events: list[Event] = []
    with _driver(url, events) as drv:
        assert drv.initialise() == 2
        drv.send_job(**JOB)
        assert wait_for(lambda: len(_shares(events)) >= 3)
        face.inject(b"\x00\x13\x37garbage\xaa")
        face.set_faults(flip_bit_probability=0.02)
        assert wait_for(lambda: drv.counters["crc_errors"] + drv.counters["bad_hash"] >= 3, 10.0)
        face.set_faults(flip_bit_probability=0.0)
        before = len(_shares(events))
        assert wait_for(lambda: len(_shares(events)) >= before + 3)
        assert drv.counters["garbage_bytes"] >= 10
        # every share that reached the sink is a verified, attributed one
        assert all(s.chip in (0, 1) and s.share_difficulty >= TICKET * 0.99
                   for s in _shares(events))


def test_dropped_bytes_resync(make_face: FaceFactory) -> None:
    face, url = make_face(rate=5.0)
    events: list[Event] = []
    with _driver(url, events) as drv:
        drv.initialise()
        drv.send_job(**JOB)
        face.set_faults(drop_byte_probability=0.03)
        assert wait_for(lambda: face.counters["dropped_bytes"] >= 2, 10.0)
        face.set_faults(drop_byte_probability=0.0)
        n = len(_shares(events))
        assert wait_for(lambda: len(_shares(events)) >= n + 3)
        assert drv.counters["crc_errors"] + drv.counters["garbage_bytes"] >= 1


def test_hardware_errors_are_counted_as_bad_hashes(make_face: FaceFactory) -> None:
    face, url = make_face(rate=5.0, hw_error=0.5)
    events: list[Event] = []
    with _driver(url, events) as drv:
        drv.initialise()
        drv.send_job(**JOB)
        assert wait_for(lambda: drv.counters["bad_hash"] >= 2 and len(_shares(events)) >= 2)
        assert drv.counters["bad_hash"] <= face.counters["hw_errors"]


def test_a_chip_that_stops_answering_is_detected(make_face: FaceFactory) -> None:
    face, url = make_face(chips=4)
    events: list[Event] = []
    with _driver(url, events) as drv:
        assert drv.initialise() == 4
        assert all(drv.check_chips().values())
        face.silence_chip(2)
        status = drv.check_chips()
        assert status == {0: True, 1: True, 2: False, 3: True}
        assert drv.silent_chips == {2} and drv.counters["chip_silent"] == 1
        face.silence_chip(2, silent=False)
        assert all(drv.check_chips().values()) and not drv.silent_chips


def test_a_missing_chip_is_not_enumerated(make_face: FaceFactory) -> None:
    _face, url = make_face(chips=3, missing_chips=frozenset({1}))
    with _driver(url, []) as drv:
        assert drv.initialise(expected_chips=3) == 2


def test_pty_closing_gives_a_clear_error_and_keeps_events() -> None:
    face = PtyUartFace(physics_for(5.0), face_config(seed=1)).start()
    events: list[Event] = []
    drv = _driver(face.path, events).open()
    try:
        drv.initialise()
        drv.send_job(**JOB)
        assert wait_for(lambda: len(_shares(events)) >= 2)
        face.close()  # the pty goes away
        assert wait_for(lambda: drv.error is not None, 5.0)
        kept = len(_shares(events))
        assert kept >= 2 and drv.counters["link_lost"] == 1
        with pytest.raises(DeviceError, match="closed"):
            drv.send_job(**JOB)
        assert len(_shares(events)) == kept
    finally:
        drv.close()
        face.close()


def test_tcp_link_drop_reconnects_and_resumes() -> None:
    face = TcpUartFace(physics_for(5.0), face_config(seed=2)).start()
    events: list[Event] = []
    try:
        with _driver(face.url, events, reconnect_timeout_s=3.0) as drv:
            drv.initialise()
            drv.send_job(**JOB)
            assert wait_for(lambda: len(_shares(events)) >= 2)
            client = face._link.client  # type: ignore[attr-defined]
            assert client is not None
            client.shutdown(socket.SHUT_RDWR)  # the far end drops the connection
            assert wait_for(lambda: drv.counters["reconnects"] == 1, 5.0)
            n = len(_shares(events))
            assert wait_for(lambda: len(_shares(events)) >= n + 2, 8.0)
            assert drv.error is None
    finally:
        face.close()


def test_face_survives_garbage_and_still_answers(make_face: FaceFactory) -> None:
    face, url = make_face(chips=2)
    rng = random.Random(3)
    with _driver(url, []) as drv:
        for _ in range(20):
            drv.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        drv.send(b"\x55\xaa" * 20 + b"\x55\xaa\x51\x09")  # truncated and bogus frames
        drv.send(b"\x00" * 16)
        assert drv.enumerate() == 2
        assert face.counters["rx_errors"] == 0
        assert face.parser.dropped["garbage_bytes"] > 0


def test_unaffordable_rate_is_reported_not_faked(caplog: pytest.LogCaptureFixture) -> None:
    ticket = 2.0**-14  # 262k hashes per nonce
    physics = physics_for(1000.0, ticket=ticket)  # 262 MH/s asked of one Python thread
    cfg = face_config(seed=5, suggested_ticket_difficulty=ticket, pace=False)
    caplog.set_level(logging.WARNING, logger="emulator.faces.uart")
    with TcpUartFace(physics, cfg) as face, _driver(face.url, [],) as drv:  # type: ignore[attr-defined]
        drv.initialise()
        assert drv.ticket_difficulty == ticket
        drv.send_job(**JOB)
        assert wait_for(lambda: face.counters["late_shares"] >= 1, 10.0)
        time.sleep(0.1)
        assert drv.counters["bad_hash"] == 0  # late, but real
    assert any("cannot hash fast enough" in r.message for r in caplog.records)


def test_no_fds_left_after_many_faces() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        PtyUartFace(ConstantPhysics()).start().close()
        TcpUartFace(ConstantPhysics()).start().close()
    assert len(os.listdir("/proc/self/fd")) == before
