"""Proof-of-work hashing shared by the pool server, its clients and the emulator.

Conventions: hashes are raw digests (``bytes``) in the order the hash function returns
them; a hash "as an integer" is ``int.from_bytes(digest, "little")`` and the displayed
(block explorer) form is the digest reversed. Difficulty is dimensionless and relative to
the pool "difficulty 1" target ``0xFFFF * 2**208``.

RIPEMD-160 (for LBRY's proof of work) comes from hashlib when OpenSSL provides it and
from a pure-Python implementation otherwise (OpenSSL 3 moved it to the legacy provider).
"""

from __future__ import annotations

import hashlib
import struct
from fractions import Fraction

DIFF1_TARGET = 0xFFFF * 2**208
"""The target of a difficulty-1 share (pool difficulty, "pdiff")."""

MAX_HASH = 2**256 - 1

_sha256 = hashlib.sha256
_sha512 = hashlib.sha512


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice."""
    return _sha256(_sha256(data).digest()).digest()


def hash_to_int(digest: bytes) -> int:
    """A 32-byte hash as the integer compared with targets (little-endian)."""
    return int.from_bytes(digest, "little")


def display_hash(digest: bytes) -> str:
    """The hex form explorers show: the digest reversed."""
    return digest[::-1].hex()


def difficulty_of_hash(digest: bytes) -> float:
    """Share difficulty reached by a hash: ``DIFF1_TARGET / hash_as_int`` (inf for 0)."""
    value = int.from_bytes(digest, "little")
    return float("inf") if value == 0 else DIFF1_TARGET / value


def target_of_difficulty(difficulty: float) -> int:
    """The largest hash integer that meets ``difficulty`` (exact for any float > 0)."""
    if not difficulty > 0:
        raise ValueError(f"difficulty must be > 0, got {difficulty!r}")
    target = int(Fraction(DIFF1_TARGET) / Fraction(difficulty))
    return min(target, MAX_HASH)


def meets_difficulty(digest: bytes, difficulty: float) -> bool:
    """True when the hash reaches at least ``difficulty``."""
    return int.from_bytes(digest, "little") <= target_of_difficulty(difficulty)


def bits_to_target(nbits: int) -> int:
    """Expand a compact ``nBits`` value to its 256-bit target."""
    exponent = nbits >> 24
    mantissa = nbits & 0x007FFFFF
    if exponent <= 3:
        return mantissa >> (8 * (3 - exponent))
    return mantissa << (8 * (exponent - 3))


def swap_words(data: bytes) -> bytes:
    """Reverse the bytes inside each 4-byte word (Stratum's prevhash form <-> header order)."""
    if len(data) % 4:
        raise ValueError(f"length must be a multiple of 4, got {len(data)}")
    words = struct.unpack(f"<{len(data) // 4}I", data)
    return struct.pack(f">{len(words)}I", *words)


def merkle_root(coinbase_hash: bytes, branch: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Fold a Stratum merkle branch into the coinbase hash; result in header byte order."""
    h = coinbase_hash
    for step in branch:
        h = _sha256(_sha256(h + step).digest()).digest()
    return h


def build_header(
    *,
    version: int,
    prev_hash: bytes,
    merkle: bytes,
    ntime: int,
    nbits: int,
    nonce: int,
    claim_trie: bytes | None = None,
) -> bytes:
    """An 80-byte Bitcoin header, or a 112-byte LBRY header when ``claim_trie`` is given.

    ``prev_hash``, ``merkle`` and ``claim_trie`` are 32 bytes in header byte order.
    """
    if len(prev_hash) != 32 or len(merkle) != 32:
        raise ValueError("prev_hash and merkle must be 32 bytes each")
    head = struct.pack("<I", version & 0xFFFFFFFF) + prev_hash + merkle
    if claim_trie is not None:
        if len(claim_trie) != 32:
            raise ValueError("claim_trie must be 32 bytes")
        head += claim_trie
    return head + struct.pack("<III", ntime & 0xFFFFFFFF, nbits & 0xFFFFFFFF, nonce & 0xFFFFFFFF)


def lbry_pow_hash(header: bytes) -> bytes:
    """LBRY proof of work of a 112-byte header: SHA256d(RMD160(S[:32]) || RMD160(S[32:])),
    with S = SHA512(SHA256d(header))."""
    if len(header) != 112:
        raise ValueError(f"an LBRY header is 112 bytes, got {len(header)}")
    s = _sha512(sha256d(header)).digest()
    return sha256d(ripemd160(s[:32]) + ripemd160(s[32:]))


def pow_hash(header: bytes) -> bytes:
    """Proof-of-work hash of a header: SHA-256d for 80 bytes, LBRY's for 112 bytes."""
    return lbry_pow_hash(header) if len(header) == 112 else sha256d(header)


# --- RIPEMD-160 -------------------------------------------------------------------------


def _hashlib_ripemd160_works() -> bool:
    try:
        return (
            hashlib.new("ripemd160", b"").hexdigest() == "9c1185a5c5e9fc54612808977ee8f548b2258d31"
        )
    except (ValueError, TypeError):
        return False


_R_LEFT = (
    *range(16),
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
)  # fmt: skip
_R_RIGHT = (
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
)  # fmt: skip
_S_LEFT = (
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
)  # fmt: skip
_S_RIGHT = (
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
)  # fmt: skip
_K_LEFT = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_K_RIGHT = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)
_M32 = 0xFFFFFFFF


def _f(round_: int, x: int, y: int, z: int) -> int:
    if round_ == 0:
        return x ^ y ^ z
    if round_ == 1:
        return (x & y) | (~x & z)
    if round_ == 2:
        return (x | ~y) ^ z
    if round_ == 3:
        return (x & z) | (y & ~z)
    return x ^ (y | ~z)


def _rol(x: int, n: int) -> int:
    x &= _M32
    return ((x << n) | (x >> (32 - n))) & _M32


def _rmd160_compress(state: list[int], block: bytes) -> None:
    x = struct.unpack("<16I", block)
    al, bl, cl, dl, el = state
    ar, br, cr, dr, er = state
    for j in range(80):
        rnd = j >> 4
        t = _rol(al + _f(rnd, bl, cl, dl) + x[_R_LEFT[j]] + _K_LEFT[rnd], _S_LEFT[j]) + el
        al, el, dl, cl, bl = el, dl, _rol(cl, 10), bl, t & _M32
        t = _rol(ar + _f(4 - rnd, br, cr, dr) + x[_R_RIGHT[j]] + _K_RIGHT[rnd], _S_RIGHT[j]) + er
        ar, er, dr, cr, br = er, dr, _rol(cr, 10), br, t & _M32
    t = (state[1] + cl + dr) & _M32
    state[1] = (state[2] + dl + er) & _M32
    state[2] = (state[3] + el + ar) & _M32
    state[3] = (state[4] + al + br) & _M32
    state[4] = (state[0] + bl + cr) & _M32
    state[0] = t


def ripemd160_pure(data: bytes) -> bytes:
    """RIPEMD-160 in pure Python (slow: about 50 µs per 64-byte block)."""
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", 8 * len(data))
    for offset in range(0, len(padded), 64):
        _rmd160_compress(state, padded[offset : offset + 64])
    return struct.pack("<5I", *state)


def _ripemd160_hashlib(data: bytes) -> bytes:
    return hashlib.new("ripemd160", data).digest()


HAVE_HASHLIB_RIPEMD160 = _hashlib_ripemd160_works()

ripemd160 = _ripemd160_hashlib if HAVE_HASHLIB_RIPEMD160 else ripemd160_pure
"""RIPEMD-160 digest of ``data`` (hashlib's when available, else :func:`ripemd160_pure`)."""
