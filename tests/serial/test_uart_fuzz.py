"""Hypothesis fuzz of the sans-IO UART codec, both stream parsers, the ticket encodings,
the clock check and the driver's frame handler: never an uncaught exception, never an
unbounded buffer, resynchronisation after garbage."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import Counter

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asic_bridge.errors import EnvelopeError, ProtocolError
from asic_bridge.models import LV06
from asic_bridge.serial import codec, ticket
from asic_bridge.serial.chain import ChainDriver
from asic_bridge.serial.chips import BM1366
from asic_bridge.serial.codec import (
    CommandStreamParser,
    Job,
    NonceReply,
    RegisterReply,
    ReplyStreamParser,
)
from asic_bridge.serial.envelope import check_frequency, physical_range_mhz
from emulator.faces.uart_chain import ConstantPhysics, EmulatedChain, UartFaceConfig

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

no_aa = st.integers(0, 255).filter(lambda b: b != 0xAA)


@st.composite
def reply_frames(draw: st.DrawFn) -> bytes:
    """A valid 11-byte reply (nonce or register) whose body holds no 0xAA byte."""
    body = bytes(draw(st.lists(no_aa, min_size=8, max_size=8)))
    if draw(st.booleans()):
        frame = codec.encode_nonce_reply(NonceReply(body[:4], body[4], body[5],
                                                    int.from_bytes(body[6:8], "big")))
    else:
        frame = codec.encode_register_reply(RegisterReply(int.from_bytes(body[:4], "big"),
                                                          body[4], body[5]))
    return frame


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_reply_parser_never_raises_and_holds_less_than_a_frame(chunks: list[bytes]) -> None:
    parser = ReplyStreamParser(11)
    for chunk in chunks:
        for frame in parser.feed(chunk):
            assert len(frame) == 11 and codec.reply_crc_ok(frame)
            codec.parse_reply(frame)  # a frame the parser passes always decodes
        assert parser.pending() < 11  # never more than a partial frame is held


@FUZZ
@given(st.binary(max_size=200).filter(lambda b: 0xAA not in b),
       st.lists(reply_frames(), min_size=1, max_size=8),
       st.lists(st.integers(0, 10_000), max_size=8))
def test_reply_parser_resyncs_after_garbage(garbage: bytes, frames: list[bytes],
                                            cuts: list[int]) -> None:
    parser = ReplyStreamParser(11)
    stream = garbage + b"".join(frames)
    got = [f for chunk in _chunks(stream, cuts) for f in parser.feed(chunk)]
    assert got == frames
    assert parser.dropped["garbage_bytes"] == len(garbage)


@FUZZ
@given(st.binary(max_size=300), st.lists(reply_frames(), min_size=2, max_size=5))
def test_reply_parser_recovers_after_any_garbage(garbage: bytes, frames: list[bytes]) -> None:
    # a fake frame cut out of the garbage can swallow at most the first real frame
    parser = ReplyStreamParser(11)
    got = parser.feed(garbage + b"".join(frames))
    assert got[-(len(frames) - 1):] == frames[1:]


@FUZZ
@given(st.lists(no_aa, max_size=8), st.lists(reply_frames(), min_size=1, max_size=4))
def test_reply_parser_resumes_inside_a_frame_that_failed_its_crc(
        tail: list[int], frames: list[bytes]) -> None:
    # a preamble in the garbage, then a real frame starting inside its 11 bytes
    stream = b"\xaa\x55" + bytes(tail) + b"".join(frames)
    assume(not codec.reply_crc_ok(stream[:11]))
    parser = ReplyStreamParser(11)
    assert parser.feed(stream) == frames
    assert parser.dropped["crc"] == 1


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_command_parser_and_chain_never_raise(chunks: list[bytes]) -> None:
    chain = EmulatedChain(ConstantPhysics(chip_count=2), UartFaceConfig())
    parser = CommandStreamParser(BM1366)
    for chunk in chunks:
        for item in parser.feed(chunk):
            for frame in chain.handle(item):
                codec.parse_reply(frame)
        assert len(parser._buf) < 88  # at most a partial job frame is held
    assert chain.ticket_difficulty > 0 and math.isfinite(chain.ticket_difficulty)


@FUZZ
@given(st.binary(min_size=11, max_size=11))
def test_parse_reply_raises_only_protocol_errors(frame: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        codec.parse_reply(frame)


@FUZZ
@given(st.binary(min_size=88, max_size=88))
def test_decode_job_raises_only_protocol_errors(frame: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        codec.decode_job(frame)


@FUZZ
@given(st.integers(0, 0x7F).map(lambda i: i & 0xF8), st.integers(0, 2**32 - 1),
       st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_job_frames_round_trip(job_id: int, version: int, prev: bytes, merkle: bytes,
                               ntime: int, nbits: int) -> None:
    job = Job(job_id, version, prev, merkle, ntime, nbits)
    assert codec.decode_job(codec.encode_job(job)) == job


@FUZZ
@given(st.floats(min_value=1e-300, max_value=1e300), st.booleans())
def test_ticket_setting_is_a_power_of_two_at_or_below_the_request(d: float, emulated: bool) -> None:
    s = ticket.ticket_setting(d, emulated=emulated)
    applied = s.difficulty
    assert math.log2(applied) == int(math.log2(applied))
    assert applied <= max(math.ceil(d), 1) or applied == 2**32
    assert applied >= (2.0**-32 if emulated else 1.0)
    if emulated and d < 1:
        assert applied <= max(d, 2.0**-32) and ticket.parse_emulation_write(
            ticket.emulation_write_value(s.floor_shift)) == s.floor_shift


@FUZZ
@given(st.binary(min_size=4, max_size=4), st.integers(0, 2**32 - 1))
def test_emulation_register_parsers_never_raise(value: bytes, word: int) -> None:
    shift = ticket.parse_emulation_write(value)
    assert shift is None or 0 <= shift <= ticket.MAX_FLOOR_SHIFT
    suggested = ticket.parse_emulation_read(word)
    assert suggested is None or 0 <= suggested <= ticket.MAX_FLOOR_SHIFT


@FUZZ
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)),
       st.booleans(), st.booleans())
def test_clock_check_passes_only_sane_values(mhz: float, override: bool, with_spec: bool) -> None:
    low, high = physical_range_mhz(BM1366)
    try:
        value = check_frequency(BM1366, LV06 if with_spec else None, mhz, override=override)
    except EnvelopeError:
        return
    assert math.isfinite(value) and low <= value <= high
    if not override:
        assert with_spec and 400 <= value <= 575


@FUZZ
@given(st.lists(st.tuples(st.binary(min_size=8, max_size=8), st.booleans()), max_size=30))
def test_driver_frame_handler_never_raises(bodies: list[tuple[bytes, bool]]) -> None:
    drv = ChainDriver("loop://", sink=lambda e: None)
    drv.nonces.add_job(Job(8, 0x20000000, bytes(32), bytes(32), 0, 0))
    for body, nonce in bodies:
        if nonce:
            frame = codec.encode_nonce_reply(NonceReply(body[:4], body[4], body[5],
                                                        int.from_bytes(body[6:8], "big")))
        else:
            frame = codec.encode_register_reply(RegisterReply(
                int.from_bytes(body[:4], "big"), body[4], body[5]))
        drv._handle(frame, 0)
    c: Counter[str] = drv.counters
    assert c["unsolicited_registers"] + c["unknown_job"] + c["bad_hash"] + c["shares"] == len(bodies)
    assert drv.registers.qsize() == 0  # no read was waiting: nothing kept


@FUZZ
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_emulated_chain_never_runs_a_nonsense_clock(value: int, all_chips: bool) -> None:
    physics = ConstantPhysics(chip_count=2)
    chain = EmulatedChain(physics, UartFaceConfig())
    header = codec.TYPE_CMD | codec.CMD_WRITE | (codec.GROUP_ALL if all_chips else 0)
    chain.handle(codec.CommandFrame(header, bytes((0, BM1366.pll_register))
                                    + value.to_bytes(4, "big")))
    low, high = physical_range_mhz(BM1366)
    for chip in range(2):
        assert low <= physics.frequency_mhz(chip) <= high
