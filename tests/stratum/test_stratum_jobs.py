"""Jobs: notify round trips, header rebuilding against hand-computed expectations, sources."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from asic_bridge.errors import ProtocolError
from asic_bridge.hashing import sha256d
from asic_bridge.stratum.jobs import Job, SyntheticJobSource, TemplateJobSource

GENESIS_TX = bytes.fromhex(
    "01000000"
    "01" + "00" * 32 + "ffffffff"
    "4d"
    "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72"
    "206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73"
    "ffffffff"
    "01"
    "00f2052a01000000"
    "43"
    "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38"
    "c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac"
    "00000000"
)
GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def _dsha(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def test_genesis_rebuilt_from_a_stratum_job() -> None:
    # split the genesis coinbase as a pool would: en1 = 4 bytes, en2 = 4 bytes
    cut = 4 + 1 + 32 + 4 + 1 + 6
    coinb1, en1, en2, coinb2 = (
        GENESIS_TX[:cut],
        GENESIS_TX[cut : cut + 4],
        GENESIS_TX[cut + 4 : cut + 8],
        GENESIS_TX[cut + 8 :],
    )
    template = {
        "prevhash": "00" * 32,
        "coinb1": coinb1.hex(),
        "coinb2": coinb2.hex(),
        "merkle_branch": [],
        "version": "00000001",
        "nbits": "1d00ffff",
        "ntime": 1231006505,
    }
    job = TemplateJobSource(template).make_job("g")
    header = job.header(en1, en2, ntime=1231006505, nonce=2083236893, version=1)
    assert sha256d(header)[::-1].hex() == GENESIS_HASH


def test_header_rebuild_by_hand_with_branch_and_prevhash_swap() -> None:
    prev_notify = bytes(range(32))  # as sent in mining.notify
    branch = [bytes([0xA0 + i]) * 32 for i in range(3)]
    coinb1, coinb2 = bytes.fromhex("01000000aa"), bytes.fromhex("bbccdd")
    en1, en2 = bytes.fromhex("0a0b0c0d"), bytes.fromhex("01000000")
    params = [
        "7",
        prev_notify.hex(),
        coinb1.hex(),
        coinb2.hex(),
        [b.hex() for b in branch],
        "20000000",
        "1703a30c",
        "65a0b1c2",
        True,
    ]
    job = Job.from_notify(params)
    # by hand: coinbase hash, then fold the branch
    h = _dsha(coinb1 + en1 + en2 + coinb2)
    for b in branch:
        h = _dsha(h + b)
    prev_header = b"".join(prev_notify[i : i + 4][::-1] for i in range(0, 32, 4))
    expected = (
        (0x20000000 | 0x00002000).to_bytes(4, "little")
        + prev_header
        + h
        + (0x65A0B1C2).to_bytes(4, "little")
        + (0x1703A30C).to_bytes(4, "little")
        + (0xDEADBEEF).to_bytes(4, "little")
    )
    header = job.header(en1, en2, ntime=0x65A0B1C2, nonce=0xDEADBEEF, version=0x20002000)
    assert header == expected
    assert job.notify_params() == params


def test_lbry_notify_form_round_trip() -> None:
    job = SyntheticJobSource(seed=1, lbry=True).make_job("5")
    params = job.notify_params()
    assert len(params) == 10
    again = Job.from_notify(params)
    assert again == job and again.is_lbry
    header = again.header(b"\x00" * 4, b"\x00" * 4, ntime=job.ntime, nonce=1, version=job.version)
    assert len(header) == 112
    assert header[68:100] == job.claim_trie


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p[:5],
        lambda p: [*p[:1], "zz", *p[2:]],
        lambda p: [*p[:4], "notalist", *p[5:]],
        lambda p: [*p[:8], "yes"],
        lambda p: [*p[:1], "00" * 31, *p[2:]],
    ],
)
def test_bad_notify_rejected(mutate: object) -> None:
    params = SyntheticJobSource(seed=2).make_job("1").notify_params()
    with pytest.raises(ProtocolError):
        Job.from_notify(mutate(params))  # type: ignore[operator]


def test_synthetic_coinbase_structure() -> None:
    src = SyntheticJobSource(extranonce_size=12, seed=3)
    job = src.make_job("1")
    tx = job.coinbase(b"\x11" * 4, b"\x22" * 8)
    assert tx[:4] == struct.pack("<I", 1) and tx[4] == 1 and tx[5:37] == bytes(32)
    script_len = tx[41]
    script = tx[42 : 42 + script_len]
    assert b"\x11" * 4 + b"\x22" * 8 in script  # extranonce space lies inside the script
    rest = tx[42 + script_len :]
    assert rest[:4] == b"\xff\xff\xff\xff" and rest[4] == 1 and rest[-4:] == bytes(4)
    assert len(rest) == 4 + 1 + 8 + 1 + 25 + 4
    assert src.make_job("2").prev_hash != job.prev_hash
    # reproducible with a seed
    assert SyntheticJobSource(extranonce_size=12, seed=3).make_job("1") == job


def test_template_file(tmp_path: Path) -> None:
    job = SyntheticJobSource(seed=4).make_job("x")
    p = job.notify_params()
    template = dict(
        zip(
            ["prevhash", "coinb1", "coinb2", "merkle_branch", "version", "nbits", "ntime"],
            p[1:8],
            strict=True,
        )
    )
    path = tmp_path / "job.json"
    path.write_text(json.dumps(template))
    src = TemplateJobSource.from_file(path)
    assert src.make_job("9") == job.with_id("9")
    with pytest.raises(ValueError, match="lacks"):
        TemplateJobSource({"prevhash": "00"})
