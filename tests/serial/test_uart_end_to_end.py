"""End to end over a real pty and over socket:// on loopback against the emulated chain:
enumerate, set a clock, send jobs, receive valid nonces attributed to the right chips."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from uart_helpers import TICKET, FaceFactory, wait_for

from asic_bridge.errors import EnvelopeError
from asic_bridge.events import ControlEvent, Event, JobEvent, ShareEvent, TimestampSource
from asic_bridge.models import LV06
from asic_bridge.serial import codec, pll
from asic_bridge.serial.driver import ChainDriver

JOB = dict(version=0x20000000, prev_hash=bytes(range(32)), merkle_root=bytes(range(32, 64)),
           ntime=1_700_000_000, nbits=0x1705DD01)


def _driver(url: str, events: list[Event]) -> ChainDriver:
    # no ticket difficulty given: the emulated chain's suggestion (TICKET) is written
    return ChainDriver(url, sink=events.append, spec=LV06, reconnect_timeout_s=0.3).open()


def test_enumerate_clock_jobs_and_attributed_nonces(make_face: FaceFactory) -> None:
    face, url = make_face(chips=4, rate=5.0)  # ~5 nonces/s/chip at TICKET
    events: list[Event] = []
    with _driver(url, events) as drv:
        assert drv.initialise(frequency_mhz=500.0) == 4
        assert wait_for(lambda: [c.address for c in face.chain.chips] == [0, 64, 128, 192])
        assert wait_for(lambda: face.chain.physics.frequency_mhz(3) == 500.0)
        assert drv.emulated and drv.ticket_difficulty == TICKET
        assert face.chain.ticket_difficulty == TICKET  # what the chips apply
        assert face.chain.version_mask == 0x1FFFE000
        controls = [e for e in events if isinstance(e, ControlEvent)]
        assert controls and controls[0].value == 500.0 and controls[0].requested == 500.0
        # the PLL register reads back what was written
        pll_regs = drv.read_register(0x08)
        expected = pll.register_value("BM1366", pll.search("BM1366", 500.0))
        assert expected == 0x40A00230  # vdo 0x40, fb 160, ref 2, post (4-1)<<4 | (1-1)
        assert len(pll_regs) == 4 and {r.value for r in pll_regs} == {expected}
        assert sorted(r.chip_address for r in pll_regs) == [0, 64, 128, 192]
        job = drv.send_job(**JOB)
        assert wait_for(lambda: sum(isinstance(e, ShareEvent) for e in events) >= 24, 10.0)
    shares = [e for e in events if isinstance(e, ShareEvent)]
    assert any(isinstance(e, JobEvent) for e in events)
    assert drv.counters["bad_hash"] == 0 and drv.counters["crc_errors"] == 0
    assert set(Counter(s.chip for s in shares)) == {0, 1, 2, 3}
    for s in shares:
        assert s.t_source is TimestampSource.SERIAL and s.job_id == f"{job.job_id:02x}"
        assert 0 <= s.core < 112 and s.share_difficulty >= TICKET * 65535 / 65536
        # independent re-check of the proof of work
        header = job.header(s.nonce.to_bytes(4, "little"), job.version | s.version_bits)
        digest = hashlib.sha256(hashlib.sha256(header).digest()).digest()
        assert int.from_bytes(digest, "little") <= codec.target_for(TICKET)
        assert (s.nonce.to_bytes(4, "little")[0] & 0xFE) // 2 == s.core  # core bits 25..31
    assert len({s.nonce for s in shares}) == len(shares)


def test_frequency_envelope_refused_unless_override(make_face: FaceFactory) -> None:
    face, url = make_face()
    events: list[Event] = []
    with _driver(url, events) as drv:
        drv.initialise()
        with pytest.raises(EnvelopeError):
            drv.set_frequency(700.0)
        assert not any(isinstance(e, ControlEvent) for e in events)
        ev = drv.set_frequency(700.0, override=True)
        assert ev.value == pytest.approx(700.0) and ev.requested == 700.0
        assert wait_for(lambda: face.chain.physics.frequency_mhz(0) == ev.value)


def test_baud_switch_paces_at_the_new_rate(make_face: FaceFactory) -> None:
    face, url = make_face(chips=2)
    events: list[Event] = []
    with _driver(url, events) as drv:
        assert drv.initialise(fast_baud=True) == 2
        assert wait_for(lambda: face.chain.baud == 1_000_000)
        assert drv.transport.baud == 1_000_000
        assert drv.enumerate() == 2  # still talking after the switch


def test_stale_job_nonces_are_dropped_as_unknown_job(make_face: FaceFactory) -> None:
    face, url = make_face()
    events: list[Event] = []
    with _driver(url, events) as drv:
        drv.initialise()
        drv._jobs.clear()  # simulate a host that forgot the job
        face.inject(codec.encode_nonce_reply(codec.NonceReply(b"\0\0\0\1", 0, 0x08, 0)))
        assert wait_for(lambda: drv.counters["unknown_job"] == 1)
