"""Issue 7/8 on the chip UART: nonces verified at the ticket difficulty the driver wrote
(and a warning naming the cause when none verify), checked clock writes, bounded
register replies under a flood, a closed link that surfaces with the driver's counters."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time

import pytest
from uart_helpers import TICKET, FaceFactory, face_config, physics_for, wait_for

from asic_bridge.device import open_device
from asic_bridge.errors import DeviceError, EnvelopeError
from asic_bridge.events import Event, ShareEvent, StatusEvent, TelemetryEvent
from asic_bridge.models import LV06
from asic_bridge.serial import codec, ticket
from asic_bridge.serial.chain import ChainDriver
from asic_bridge.serial.chips import BM1366
from asic_bridge.serial.codec import Job, RegisterReply
from asic_bridge.serial.nonces import NonceVerifier
from emulator.faces.uart import PtyUartFace
from emulator.faces.uart_chain import EmulatedChain
from emulator.faces.uart_engine import NonceEngine
from emulator.mining import search_chip_nonce

JOB = dict(version=0x20000000, prev_hash=bytes(range(32)), merkle_root=bytes(range(32, 64)),
           ntime=1_700_000_000, nbits=0x1705DD01)

# -- clocks: no unchecked write ------------------------------------------------------------


@pytest.mark.parametrize("mhz", [1500.0, -100.0, 0.0, math.nan, math.inf, 1e308, 1001.0])
def test_no_clock_outside_the_physical_range_even_with_override(mhz: float) -> None:
    for spec in (None, LV06):
        with ChainDriver("loop://", spec=spec) as drv:
            for override in (False, True):
                with pytest.raises(EnvelopeError):
                    drv.set_frequency(mhz, override=override)
                with pytest.raises(EnvelopeError):  # refused before anything is written
                    drv.initialise(frequency_mhz=mhz, override=override)
            assert drv.counters["tx_frames"] == 0 and drv.frequency_mhz is None


def test_without_a_model_only_the_override_writes_a_clock() -> None:
    with ChainDriver("loop://", spec=None) as drv:
        with pytest.raises(EnvelopeError, match="no device model"):
            drv.set_frequency(500.0)
        assert drv.counters["tx_frames"] == 0
        assert drv.set_frequency(700.0, override=True).value == pytest.approx(700.0)
        assert drv.counters["tx_frames"] == 1
    with ChainDriver("loop://", spec=LV06) as drv:
        with pytest.raises(EnvelopeError, match="safe envelope"):
            drv.set_frequency(700.0)
        assert drv.set_frequency(999.0, override=True).value <= 1000.0


def test_device_override_is_bounded_by_the_chip(make_face: FaceFactory) -> None:
    _face, url = make_face()
    with open_device(f"serial://{url}?chip=bm1366&job_interval_s=5") as dev:
        with pytest.raises(EnvelopeError, match="physical range"):
            dev.set_knob("frequency", 1500, "MHz", override=True)
        with pytest.raises(EnvelopeError):
            dev.set_knob("frequency", float("nan"), "MHz", override=True)
        assert dev.set_knob("frequency", 600, "MHz", override=True).value == pytest.approx(600, abs=3)


def test_a_real_chain_never_gets_a_ticket_below_one() -> None:
    sent: list[bytes] = []
    drv = ChainDriver("loop://")
    drv.send = sent.append  # type: ignore[method-assign]
    assert not drv.emulated and drv.set_ticket_difficulty(2.0**-16) == 1.0
    assert drv.ticket_difficulty == 1.0 and len(sent) == 1  # TicketMask only
    assert sent[0][5] == BM1366.ticket_mask_register
    drv.emulated = True
    assert drv.set_ticket_difficulty(2.0**-16) == 2.0**-16
    assert [f[5] for f in sent[1:]] == [BM1366.ticket_mask_register, ticket.EMULATION_REGISTER]


# -- the emulated chain: ticket difficulty and hash-rate scale -----------------------------


def test_chain_rate_is_scaled_in_hash_rate_only() -> None:
    physics = physics_for(1.0)
    chain = EmulatedChain(physics, face_config(hashrate_scale=None, host_utilization=0.5))
    engine = NonceEngine(chain, chain.config, send=lambda b: None, stop=threading.Event(),
                         counters=__import__("collections").Counter(),
                         rng=__import__("random").Random(0))
    host_hs = engine.calibrate()
    chain.floor_shift = 16  # the host wrote 2**-16
    rate = sum(engine.share_rates())
    # the chain needs half the host's hashing, whatever the ticket difficulty
    assert rate * 2.0**-16 * 2.0**32 == pytest.approx(0.5 * host_hs, rel=1e-9)
    chain.floor_shift = 17
    assert sum(engine.share_rates()) == pytest.approx(2 * rate, rel=1e-9)
    assert physics.frequency_mhz(0) == 485.0  # physics untouched


def test_nonces_meet_the_ticket_the_driver_wrote(make_face: FaceFactory) -> None:
    face, url = make_face(rate=20.0)
    events: list[Event] = []
    with ChainDriver(url, sink=events.append, ticket_difficulty=2.0**-17) as drv:
        drv.initialise()
        assert wait_for(lambda: face.chain.ticket_difficulty == 2.0**-17)
        drv.send_job(**JOB)  # 20/s at 2**-20 -> 2.5/s at 2**-17
        assert wait_for(lambda: sum(isinstance(e, ShareEvent) for e in events) >= 3, 10.0)
    shares = [e for e in events if isinstance(e, ShareEvent)]
    assert all(s.difficulty == 2.0**-17 and s.share_difficulty >= 2.0**-17 * 65535 / 65536
               for s in shares)
    assert drv.counters["bad_hash"] == 0


# -- the watchdog ----------------------------------------------------------------------------


def test_stall_window_restarts_on_each_verified_nonce() -> None:
    job = Job(8, 0x20000000, bytes(32), bytes(range(32)), 0, 0)
    reply, _ = search_chip_nonce(BM1366, job, address=0, core=0, start=0,
                                 difficulty=TICKET, version_mask=0)
    assert reply is not None
    v = NonceVerifier(BM1366, device="d", counters=__import__("collections").Counter(),
                      stall_s=1.0)
    v.set_ticket_difficulty(TICKET)
    assert v.check_stall(5.0, 0) is None  # no job yet: nothing expected
    v.add_job(job, now_s=10.0)
    assert v.check_stall(10.9, 0) is None
    assert v.verify(reply, 0, int(10.8e9)) is not None
    assert v.check_stall(11.5, 0) is None  # 0.7 s since the nonce
    status = v.check_stall(11.9, 0)
    assert status is not None and status.status == "no_valid_nonces"
    assert "no nonce reply at all" in status.detail
    assert v.check_stall(12.0, 0) is None  # once per window
    # at a ticket difficulty where a chain at its nominal hashrate is silent anyway
    quiet = NonceVerifier(BM1366, device="d", counters=__import__("collections").Counter(),
                          stall_s=1.0, nominal_hashrate_hs=433.6e9)
    quiet.set_ticket_difficulty(256.0)  # 0.39 nonces/s expected
    quiet.add_job(job, now_s=0.0)
    assert quiet.check_stall(10.0, 0) is None  # 3.9 expected: silence is no sign yet
    assert (ev := quiet.check_stall(30.0, 0)) is not None and "about 11.8" in ev.detail


def test_nonces_short_of_the_ticket_get_a_warning_naming_the_cause(
        make_face: FaceFactory, caplog: pytest.LogCaptureFixture) -> None:
    face, url = make_face(rate=30.0)
    events: list[Event] = []
    caplog.set_level(logging.WARNING)
    with ChainDriver(url, sink=events.append, ticket_difficulty=2.0**-12,
                     stall_warning_s=1.0) as drv:
        drv.initialise()
        assert wait_for(lambda: face.chain.ticket_difficulty == 2.0**-12)
        with face.chain.lock:  # the chain ignores the mask: a fixed proof difficulty
            face.chain.ticket_mask_difficulty, face.chain.floor_shift = 1.0, 20
        drv.send_job(**JOB)
        assert wait_for(lambda: any(isinstance(e, StatusEvent) for e in events), 6.0)
    status = next(e for e in events if isinstance(e, StatusEvent))
    assert status.status == "no_valid_nonces" and "fell short" in status.detail, (
        face.counters, drv.counters)
    assert "another ticket difficulty" in status.detail and drv.counters["bad_hash"] > 0
    assert any("fell short" in r.getMessage() for r in caplog.records)


def test_a_silent_chain_gets_a_warning_with_the_expected_count(
        make_face: FaceFactory, caplog: pytest.LogCaptureFixture) -> None:
    face, url = make_face()
    events: list[Event] = []
    caplog.set_level(logging.WARNING)
    # 16 is out of an emulated chain's reach (2**36 hashes per nonce): it stays silent,
    # where a real LV06 returns ~6 nonces/s
    with ChainDriver(url, sink=events.append, spec=LV06, ticket_difficulty=16,
                     stall_warning_s=1.0) as drv:
        drv.initialise()
        drv.send_job(**JOB)
        assert wait_for(lambda: any(isinstance(e, StatusEvent) for e in events), 6.0)
    status = next(e for e in events if isinstance(e, StatusEvent))
    assert "no nonce reply at all" in status.detail and "returns about" in status.detail
    assert face.counters["unaffordable"] > 0 and face.counters["shares"] == 0
    assert any("emulation register" in r.getMessage() for r in caplog.records)


# -- bounded register replies ---------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_register_reply_flood_is_bounded() -> None:
    frame = codec.encode_register_reply(RegisterReply(0x13660000, 0, 0x00))
    n = 150_000  # 1.65 MB of valid replies per phase
    server = socket.create_server(("127.0.0.1", 0))
    drv = ChainDriver(f"socket://127.0.0.1:{server.getsockname()[1]}", max_register_replies=256)
    conn = None
    try:
        drv.open()
        conn, _ = server.accept()
        rss0 = _rss_bytes()
        # phase 1: no read waiting: every reply is counted and dropped
        conn.sendall(frame * n)
        assert wait_for(lambda: drv.counters["register_replies"] >= n, 20.0)
        assert drv.registers.qsize() == 0 and drv.counters["unsolicited_registers"] == n
        # phase 2: a read that never collects (a stalled caller): at most the bound waits
        drv.registers.open()
        conn.sendall(frame * n)
        peak = 0
        deadline = time.monotonic() + 20.0
        while drv.counters["register_replies"] < 2 * n and time.monotonic() < deadline:
            peak = max(peak, drv.registers.qsize())
            time.sleep(0.005)
        assert drv.counters["register_replies"] == 2 * n
        peak = max(peak, drv.registers.qsize())
        assert peak == 256 and drv.counters["register_overflow"] == n - 256
        assert _rss_bytes() - rss0 < 8 * 2**20  # flat: not ~30 MB of queued replies
    finally:
        drv.registers.close()
        drv.close()
        if conn is not None:
            conn.close()
        server.close()


# -- a link closed mid-capture ---------------------------------------------------------------


def test_link_closed_surfaces_as_status_error_and_counters() -> None:
    face = PtyUartFace(physics_for(5.0), face_config(seed=3)).start()
    dev = open_device(f"serial://{face.path}?chip=bm1366&job_interval_s=0.5"
                      "&reconnect_timeout_s=0.3")
    got: list[Event] = []
    try:
        assert wait_for(lambda: bool(got.extend(dev.events())) or
                        sum(isinstance(e, ShareEvent) for e in got) >= 2, 10.0)
        face.inject(b"\x00\x13\x37 garbage")
        assert wait_for(lambda: dev.driver.counters["garbage_bytes"] >= 10)  # type: ignore[attr-defined]
        face.close()  # the pty goes away mid-capture
        assert wait_for(lambda: dev.failed, 5.0)  # type: ignore[attr-defined]
        time.sleep(0.2)
        got.extend(dev.events())
    finally:
        dev.close()
        face.close()
    got.extend(dev.events())
    closed = [e for e in got if isinstance(e, StatusEvent) and e.status == "link_closed"]
    assert len(closed) == 1 and face.path in closed[0].detail
    assert isinstance(dev.error, DeviceError) and dev.last_error is dev.error  # type: ignore[attr-defined]
    faults: dict[str, int] = {}
    for e in got:
        if isinstance(e, StatusEvent) and e.status.startswith("uart_"):
            faults[e.status] = faults.get(e.status, 0) + e.count
    assert faults["uart_garbage_bytes"] == dev.stats["uart_garbage_bytes"] >= 10  # type: ignore[attr-defined]
    assert faults["uart_link_lost"] == 1
    tele = [e for e in got if isinstance(e, TelemetryEvent)]
    assert {e.quantity for e in tele} == {"hw_errors"}  # schema names only
    assert dev.health().last_error == str(dev.error)
    with pytest.raises(DeviceError, match="closed"):
        dev.set_knob("frequency", 500, "MHz")


def test_face_reply_queue_is_bounded_under_a_read_flood(make_face: FaceFactory) -> None:
    # a host asking faster than 115,200 baud can answer: the chain's FIFO overflows,
    # counted, instead of the emulator's memory growing
    face, url = make_face(chips=4, max_tx_frames=64)
    flood = codec.read_register(0x00) * 2000  # 4 chips x 2000 = 8000 replies, ~9 s of wire
    with ChainDriver(url, reconnect_timeout_s=0.3) as drv:
        drv.send(flood)
        assert wait_for(lambda: face.counters["rx_bytes"] >= len(flood), 10.0)
        assert wait_for(lambda: face.counters["tx_overflow"] > 0)
        assert face._tx.qsize() <= 64
        drv.send(codec.read_register(0x00))  # still answering afterwards
        assert wait_for(lambda: face._tx.qsize() < 64, 5.0)
    assert face.counters["tx_overflow"] + face.counters["tx_frames"] <= 8004


def test_face_closes_within_a_second_during_a_long_search(make_face: FaceFactory) -> None:
    # 2**-8: 16.8 M hashes per nonce, ~10-20 s of this host's hashing (under max_search_s)
    face, url = make_face(rate=0.01, suggested_ticket_difficulty=2.0**-8, max_search_s=1e4)
    with ChainDriver(url, reconnect_timeout_s=0.3) as drv:
        drv.initialise()
        drv.send_job(**JOB)
        assert wait_for(lambda: face.counters["hashes"] > 0, 5.0)  # searching
        t0 = time.monotonic()
        face.close()
        assert time.monotonic() - t0 < 1.0
    assert face.counters["shares"] == 0


def test_jobs_in_flight_are_bounded_by_the_job_id_space() -> None:
    with ChainDriver("loop://") as drv:
        for i in range(500):
            drv.send_job(**{**JOB, "ntime": JOB["ntime"] + i})
        assert len(drv._jobs) == BM1366.job_id_modulo // BM1366.job_id_step  # 16
        assert len(drv.last_share_ns) == 0 and drv.registers.qsize() == 0
