"""Byte-literal tests of the BM13xx codec: CRC vectors, frames, stream parsers, shares."""

from __future__ import annotations

import hashlib

import pytest

from asic_bridge.errors import ProtocolError
from asic_bridge.serial import codec
from asic_bridge.serial.chips import BM1366, address_interval, family
from asic_bridge.serial.codec import (
    CommandFrame,
    Job,
    NonceReply,
    RegisterReply,
    ReplyStreamParser,
)

# ----------------------------------------------------------------- vectors (protocols.md)


@pytest.mark.parametrize(
    ("frame", "builder"),
    [
        ("55AA520500000A", lambda: codec.read_register(0)),
        ("55AA5305000003", codec.chain_inactive),
        ("55AA400500001C", lambda: codec.set_address(0)),
        (
            "55AA510900A49000FFFF1C",
            lambda: codec.write_register(0xA4, codec.version_mask_value(0x1FFFE000)),
        ),
        ("55AA510900281130020003", lambda: codec.write_register(0x28, bytes.fromhex("11300200"))),
    ],
)
def test_crc5_frames_from_protocols_md(frame: str, builder) -> None:
    raw = bytes.fromhex(frame)
    assert codec.crc5(raw[2:-1]) == raw[-1]
    assert codec.crc5_bits(raw[2:-1], 8 * (len(raw) - 3)) == raw[-1]
    assert builder() == raw


def test_crc16_check_value() -> None:
    assert codec.crc16_false(b"123456789") == 0x29B1


def test_crc5_detects_a_flipped_bit() -> None:
    raw = bytearray(bytes.fromhex("55AA510900A49000FFFF1C"))
    raw[6] ^= 0x04
    assert codec.crc5(bytes(raw[2:-1])) != raw[-1]


def test_job_frame_matches_esp_miner_packet() -> None:
    # ESP-Miner's byte-exact BM1366 work packet test: merkle/prev as sent are 00..1f and
    # 20..3f, i.e. in header order their eight words are reversed.
    sent_merkle, sent_prev = bytes(range(32)), bytes(range(0x20, 0x40))
    job = Job(
        job_id=0x08,
        version=0x20000004,
        prev_hash=codec._swap_words(sent_prev),
        merkle_root=codec._swap_words(sent_merkle),
        ntime=0x64658BD8,
        nbits=0x1705DD01,
        starting_nonce=0x12345678,
    )
    expected = (
        bytes.fromhex("55aa2156080178563412" "01dd0517" "d88b6564")
        + sent_merkle
        + sent_prev
        + bytes.fromhex("04000020" "d621")
    )
    frame = codec.encode_job(job)
    assert len(frame) == 88 == BM1366.job_frame_len
    assert frame == expected
    assert codec.decode_job(frame) == job


def test_ticket_mask_and_version_mask_registers() -> None:
    assert codec.ticket_mask_value(256) == bytes.fromhex("000000ff")
    assert codec.ticket_mask_value(300) == bytes.fromhex("000000ff")  # 256 - 1
    # 512 -> mask 0x1FF -> bytes 00 00 01 FF -> reversed 00 00 80 FF
    assert codec.ticket_mask_value(512) == bytes.fromhex("000080ff")
    assert codec.ticket_mask_value(0.001) == bytes(4)
    for d in (1, 2, 256, 4096, 2**20):
        assert codec.ticket_difficulty_of(codec.ticket_mask_value(d)) == d
    assert codec.version_mask_value(0x1FFFE000) == bytes.fromhex("9000ffff")
    assert codec.version_mask_of(bytes.fromhex("9000ffff")) == 0x1FFFE000
    with pytest.raises(ValueError):
        codec.ticket_mask_value(0)


# ----------------------------------------------------------------- replies


def test_reply_round_trip_and_crc_rule() -> None:
    n = NonceReply(bytes.fromhex("1234abcd"), 0, 0x0B, 0x0042)
    raw = codec.encode_nonce_reply(n)
    assert len(raw) == 11 and raw[:2] == b"\xaa\x55" and raw[-1] & 0x80
    assert codec.crc5(raw[2:]) == 0
    assert codec.parse_reply(raw) == n
    r = RegisterReply(0x13660000, 0x00, 0x00)
    raw_r = codec.encode_register_reply(r)
    assert raw_r[2:4] == b"\x13\x66" and not raw_r[-1] & 0x80
    assert codec.parse_reply(raw_r) == r
    bad = bytearray(raw)
    bad[5] ^= 0x10
    with pytest.raises(ProtocolError):
        codec.parse_reply(bytes(bad))


def test_attribution_from_nonce_fields() -> None:
    # chip address 0x40 (chip 1 of 4), core 0x35, small core 5, job 0x28
    n = (0x35 << 25) | (0x40 << 17) | 0x1234
    reply = NonceReply(n.to_bytes(4, "big"), 0, BM1366.id_byte_for(0x28, 5), 0)
    chip, addr, core, small = codec.attribute(BM1366, reply, address_interval(4))
    assert (chip, addr, core, small) == (1, 0x40, 0x35, 5)
    assert BM1366.job_id_of(reply.id_byte) == 0x28
    bm1370 = family("bm1370")
    assert bm1370.job_id_of(bm1370.id_byte_for(0x30, 9)) == 0x30
    assert bm1370.small_core_of(bm1370.id_byte_for(0x30, 9)) == 9


# ----------------------------------------------------------------- stream parser

A = codec.encode_nonce_reply(NonceReply(b"\x01\x02\x03\x04", 0, 0x08, 0))
B = codec.encode_register_reply(RegisterReply(0x13660000, 0x40, 0x00))


def test_stream_parser_split_chunks() -> None:
    p = ReplyStreamParser()
    stream = A + B + A
    out = []
    for i in range(len(stream)):
        out += p.feed(stream[i : i + 1])
    assert out == [A, B, A]
    assert p.dropped["garbage_bytes"] == 0 and p.dropped["crc"] == 0
    assert p.pending() == 0


def test_stream_parser_garbage_between_frames() -> None:
    p = ReplyStreamParser()
    out = p.feed(b"\x00\xff\xaa" + A + b"\x13\x37" + B + b"\xaa")
    assert out == [A, B]
    assert p.dropped["garbage_bytes"] == 5
    assert p.pending() == 1  # a trailing AA may begin a preamble
    assert p.feed(b"\x00") == [] and p.pending() == 0


def test_stream_parser_crc_error_resyncs_on_next_preamble() -> None:
    p = ReplyStreamParser()
    bad = bytearray(A)
    bad[4] ^= 0x01
    out = p.feed(bytes(bad) + B)
    assert out == [B]
    assert p.dropped["crc"] == 1


def test_stream_parser_dropped_byte_does_not_hide_next_frame() -> None:
    p = ReplyStreamParser()
    short = A[:5] + A[6:]  # one byte lost on the wire
    out = p.feed(short + B + A)
    assert out == [B, A]
    assert p.dropped["crc"] >= 1


def test_stream_parser_flush_counts_truncated() -> None:
    p = ReplyStreamParser()
    assert p.feed(A[:7]) == []
    p.flush()
    assert p.dropped["truncated"] == 1 and p.pending() == 0


def test_command_parser_chip_side() -> None:
    job = Job(8, 0x20000000, bytes(32), bytes(range(32)), 1, 2)
    stream = (
        b"\x00\x55"
        + codec.read_register(0)
        + b"\x55\xaa\x99\x05"  # impossible header
        + codec.encode_job(job)
        + codec.set_address(0x40)
    )
    p = codec.CommandStreamParser()
    out = []
    for i in range(0, len(stream), 3):
        out += p.feed(stream[i : i + 3])
    assert out[0] == CommandFrame(0x52, b"\x00\x00")
    assert out[1] == job
    assert out[2] == CommandFrame(0x40, b"\x40\x00")
    assert p.dropped["bad_header"] == 1
    corrupt = bytearray(codec.encode_job(job))
    corrupt[40] ^= 1
    assert p.feed(bytes(corrupt) + codec.chain_inactive()) == [CommandFrame(0x53, b"\x00\x00")]
    assert p.dropped["crc"] == 1


def test_command_parser_never_raises_on_random_bytes() -> None:
    import random

    rng = random.Random(7)
    p = codec.CommandStreamParser()
    for _ in range(200):
        p.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
    p.feed(b"\x55\xaa" * 50)


# ----------------------------------------------------------------- share verification


def test_genesis_header_hash() -> None:
    job = Job(
        job_id=0,
        version=1,
        prev_hash=bytes(32),
        merkle_root=bytes.fromhex(
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        )[::-1],
        ntime=1231006505,
        nbits=0x1D00FFFF,
    )
    header = job.header((2083236893).to_bytes(4, "little"))
    digest = hashlib.sha256(hashlib.sha256(header).digest()).digest()
    assert digest[::-1].hex() == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert codec.share_difficulty(header) > 2000


def _find_nonce(job: Job, address: int, core: int, difficulty: float) -> NonceReply:
    target = codec.target_for(difficulty)
    for counter in range(1 << 17):
        n = (core << 25) | (address << 17) | counter
        raw = n.to_bytes(4, "big")
        h = hashlib.sha256(hashlib.sha256(job.header(raw)).digest()).digest()
        if int.from_bytes(h, "little") <= target:
            return NonceReply(raw, 0, BM1366.id_byte_for(job.job_id, 3), 0)
    raise AssertionError("no nonce found")


def test_verify_nonce_accepts_real_and_rejects_wrong() -> None:
    job = Job(0x10, 0x20000000, bytes(range(32)), bytes(range(32, 64)), 1700000000, 0x1705DD01)
    reply = _find_nonce(job, address=0x80, core=7, difficulty=2**-18)
    share, reached = codec.verify_nonce(BM1366, job, reply, interval=64, difficulty=2**-18)
    assert share is not None and reached >= 2**-18
    assert (share.chip, share.core, share.small_core) == (2, 7, 3)
    wrong = NonceReply(reply.nonce_raw, 0, reply.id_byte, 1)  # other version bits
    share2, reached2 = codec.verify_nonce(BM1366, job, wrong, interval=64, difficulty=2**-18)
    assert share2 is None or reached2 >= 2**-18  # (vanishingly unlikely to still pass)
    harsh, _ = codec.verify_nonce(BM1366, job, reply, interval=64, difficulty=1e9)
    assert harsh is None
