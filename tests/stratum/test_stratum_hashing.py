"""Vector tests of asic_bridge.hashing: genesis headers, targets, RIPEMD-160, LBRY PoW."""

from __future__ import annotations

import hashlib
import struct
from fractions import Fraction

import pytest

from asic_bridge import hashing
from asic_bridge.hashing import (
    DIFF1_TARGET,
    bits_to_target,
    build_header,
    difficulty_of_hash,
    display_hash,
    lbry_pow_hash,
    meets_difficulty,
    ripemd160_pure,
    sha256d,
    swap_words,
    target_of_difficulty,
)

GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
GENESIS_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"

# lbrycrd chainparams (mainnet genesis): merkle root, claim-trie root 0x1, block id
LBRY_MERKLE = "b8211c82c3d15bcd78bba57005b86fed515149a53a425eb592c07af99fe559cc"
LBRY_GENESIS_ID = "9c89283ba0f3227f6c03b70216b9f665f0118d5e0fa729cedf4fb34d6a34f463"


def genesis_header() -> bytes:
    # written out field by field, independently of build_header
    return (
        struct.pack("<I", 1)
        + bytes(32)
        + bytes.fromhex(GENESIS_MERKLE)[::-1]
        + struct.pack("<III", 1231006505, 0x1D00FFFF, 2083236893)
    )


def lbry_genesis_header() -> bytes:
    return (
        struct.pack("<I", 1)
        + bytes(32)
        + bytes.fromhex(LBRY_MERKLE)[::-1]
        + (1).to_bytes(32, "little")
        + struct.pack("<III", 1446058291, 0x1F00FFFF, 1287)
    )


def test_genesis_header_hash() -> None:
    assert display_hash(sha256d(genesis_header())) == GENESIS_HASH


def test_build_header_matches_hand_built_genesis() -> None:
    header = build_header(
        version=1,
        prev_hash=bytes(32),
        merkle=bytes.fromhex(GENESIS_MERKLE)[::-1],
        ntime=1231006505,
        nbits=0x1D00FFFF,
        nonce=2083236893,
    )
    assert header == genesis_header()
    assert len(header) == 80


def test_genesis_share_difficulty() -> None:
    digest = sha256d(genesis_header())
    expected = Fraction(0xFFFF * 2**208, int(GENESIS_HASH, 16))
    assert difficulty_of_hash(digest) == pytest.approx(float(expected), rel=1e-12)
    assert meets_difficulty(digest, 1.0)
    assert not meets_difficulty(digest, float(expected) * 1.0001)


def test_bits_to_target() -> None:
    assert bits_to_target(0x1D00FFFF) == DIFF1_TARGET
    assert bits_to_target(0x1F00FFFF) == 0xFFFF << (8 * 0x1C)
    assert bits_to_target(0x03123456) == 0x123456


@pytest.mark.parametrize("difficulty", [1.0, 1e-6, 1e-5, 0.5, 3.0, 1e6])
def test_target_of_difficulty_is_exact(difficulty: float) -> None:
    target = target_of_difficulty(difficulty)
    assert target == int(Fraction(DIFF1_TARGET) / Fraction(difficulty))
    with pytest.raises(ValueError):
        target_of_difficulty(0.0)


def test_swap_words() -> None:
    assert swap_words(bytes.fromhex("0102030405060708")) == bytes.fromhex("0403020108070605")
    with pytest.raises(ValueError):
        swap_words(b"abc")


RIPEMD160_VECTORS = [
    (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
    (b"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"),
    (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    (b"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"),
    (b"abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "12a053384a9c0c88e405a06c27dcf49ada62eb2b",
    ),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "b0e20b6e3116640286ed3a87a5713079b21f5189",
    ),
    (b"1234567890" * 8, "9b752e45573d4b39f4dbd3323cab82bf63326bfb"),
]


@pytest.mark.parametrize(("message", "digest"), RIPEMD160_VECTORS)
def test_ripemd160_pure_vectors(message: bytes, digest: str) -> None:
    assert ripemd160_pure(message).hex() == digest
    assert hashing.ripemd160(message).hex() == digest


def test_ripemd160_pure_million_a() -> None:
    assert ripemd160_pure(b"a" * 1_000_000).hex() == "52783243c1697bdbe16d37f97f68f08325dc1528"


def test_lbry_genesis_block_id_and_pow() -> None:
    header = lbry_genesis_header()
    assert len(header) == 112
    assert display_hash(sha256d(header)) == LBRY_GENESIS_ID
    pow_hash = lbry_pow_hash(header)
    # independent recomputation from the definition
    s = hashlib.sha512(sha256d(header)).digest()
    expected = sha256d(ripemd160_pure(s[:32]) + ripemd160_pure(s[32:]))
    assert pow_hash == expected
    assert (
        display_hash(pow_hash) == "0000fc6eb50fdb1fc4489a322b5f881740441b9a59f3290bad53c3815dc3afab"
    )
    assert int.from_bytes(pow_hash, "little") <= bits_to_target(0x1F00FFFF)


def test_lbry_pow_with_pure_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    header = lbry_genesis_header()
    reference = lbry_pow_hash(header)
    monkeypatch.setattr(hashing, "ripemd160", ripemd160_pure)
    assert hashing.lbry_pow_hash(header) == reference


def test_lbry_header_length_checked() -> None:
    with pytest.raises(ValueError):
        lbry_pow_hash(genesis_header())
