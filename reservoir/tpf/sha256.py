"""SHA-256 with its internal state exposed after every round, vectorised over nonces.

Arrays are numpy ``uint32`` (arithmetic wraps mod 2**32). A *state* is an ``(8, n)``
array of the working variables ``a..h``; "the state after round r" is the working state
once r of the 64 rounds have run (r = 0 is the chaining value the compression starts
from; the digest adds the chaining value back after round 64, the feed-forward).

SHA-256d of an 80-byte Bitcoin header is three compressions: block 1 (header bytes
0..63, the same for every nonce of a job: the *midstate*), block 2 of the first hash
(bytes 64..79 plus padding; the nonce is word 3, so rounds 0..2 do not depend on it),
and the single block of the second hash (the 32-byte first digest plus padding). The
rounds that depend on the nonce are those of block 2 (64) and of the second hash (64):
128 per header.

Constant words are held as shape-(1,) arrays, so the rounds before the nonce enters
cost nothing per nonce; broadcasting widens the state when the nonce appears.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
"""Round constants (FIPS 180-4, 4.2.2)."""

IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
    dtype=np.uint32,
)
"""Initial hash value H(0) (FIPS 180-4, 5.3.3)."""

ROUNDS = 64
HEADER_ROUNDS = 2 * ROUNDS
"""Nonce-dependent rounds per header: block 2 of the first hash plus the second hash."""


def _rotr(x: np.ndarray, n: int) -> np.ndarray:
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


def _u32(value: int | np.ndarray) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=np.uint32))


def compress(
    chaining: np.ndarray,
    words: list[np.ndarray],
    *,
    rounds: int = ROUNDS,
    record: frozenset[int] | set[int] | tuple[int, ...] = (),
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Run ``rounds`` rounds of the SHA-256 compression function.

    ``chaining``: the 8 chaining words, shape (8,) or (8, n). ``words``: the 16 message
    words, each a scalar-like shape-(1,) or an (n,) uint32 array. Returns the working
    state after the last round run, shape (8, n) (no feed-forward), and the state after
    each round listed in ``record`` (0..rounds) as (8, n) arrays.
    """
    if not 0 <= rounds <= ROUNDS:
        raise ValueError(f"rounds must be in 0..64, got {rounds}")
    if len(words) != 16:
        raise ValueError(f"a block is 16 words, got {len(words)}")
    w = [_u32(x) for x in words]
    a, b, c, d, e, f, g, h = (_u32(chaining[i]) for i in range(8))
    wanted = set(record)
    recorded: dict[int, np.ndarray] = {}

    width = max([len(x) for x in w] + [np.asarray(chaining).reshape(8, -1).shape[1]])

    def snapshot() -> np.ndarray:
        return np.stack([np.broadcast_to(x, (width,)) for x in (a, b, c, d, e, f, g, h)])

    if 0 in wanted:
        recorded[0] = snapshot()
    for t in range(rounds):
        if t >= 16:
            w15, w2 = w[t - 15], w[t - 2]
            s0 = _rotr(w15, 7) ^ _rotr(w15, 18) ^ (w15 >> np.uint32(3))
            s1 = _rotr(w2, 17) ^ _rotr(w2, 19) ^ (w2 >> np.uint32(10))
            w.append(w[t - 16] + s0 + w[t - 7] + s1)
        big_s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = g ^ (e & (f ^ g))
        t1 = h + big_s1 + ch + K[t] + w[t]
        big_s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) | (c & (a | b))
        t2 = big_s0 + maj
        h, g, f = g, f, e
        e = d + t1
        d, c, b = c, b, a
        a = t1 + t2
        if t + 1 in wanted:
            recorded[t + 1] = snapshot()
    return snapshot(), recorded


def digest_words(chaining: np.ndarray, final_state: np.ndarray) -> np.ndarray:
    """The compression output (feed-forward): chaining + state after round 64, (8, n)."""
    return np.asarray(chaining, dtype=np.uint32).reshape(8, -1) + final_state


def block_words(block: bytes) -> list[np.ndarray]:
    """A 64-byte block as 16 big-endian words (shape-(1,) arrays)."""
    if len(block) != 64:
        raise ValueError(f"a block is 64 bytes, got {len(block)}")
    return [_u32(x) for x in struct.unpack(">16I", block)]


def midstate(first_block: bytes) -> np.ndarray:
    """The chaining value after header bytes 0..63: shape (8,)."""
    final, _ = compress(IV, block_words(first_block))
    return digest_words(IV, final)[:, 0]


def header_block2_words(header76: bytes, nonces: np.ndarray) -> list[np.ndarray]:
    """Block 2 of the first hash for every nonce: header bytes 64..75, LE32(nonce), padding."""
    if len(header76) != 76:
        raise ValueError(f"need the 76 header bytes before the nonce, got {len(header76)}")
    w0, w1, w2 = struct.unpack(">3I", header76[64:76])
    nonce_be = np.asarray(nonces, dtype=np.uint32).byteswap()  # LE32 in the header, read BE
    zero = _u32(0)
    return [_u32(w0), _u32(w1), _u32(w2), nonce_be, _u32(0x80000000), *([zero] * 10), _u32(640)]


def second_hash_words(first_digest: np.ndarray) -> list[np.ndarray]:
    """The single block of the second hash: the first digest's 8 words plus padding."""
    zero = _u32(0)
    return [*(first_digest[i] for i in range(8)), _u32(0x80000000), *([zero] * 6), _u32(256)]


def words_to_digests(words: np.ndarray) -> np.ndarray:
    """(8, n) digest words -> (n, 32) uint8 digests in hashlib byte order."""
    return np.ascontiguousarray(words.T).astype(">u4").view(np.uint8).reshape(-1, 32)


def digests_to_words(digests: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 digests -> (8, n) uint32 words (inverse of :func:`words_to_digests`)."""
    d = np.ascontiguousarray(digests, dtype=np.uint8).reshape(-1, 32)
    return d.view(">u4").astype(np.uint32).T.copy()


def sha256d_rounds(
    header76: bytes,
    nonces: np.ndarray,
    *,
    record1: tuple[int, ...] = (),
    record2: tuple[int, ...] = (),
) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Full SHA-256d of ``header76 || LE32(nonce)`` for every nonce, all in numpy.

    Returns the final digests ``(n, 32)`` uint8 (hashlib byte order) and the states
    after the rounds in ``record1`` (block 2 of the first hash) and ``record2`` (the
    second hash), each (8, n).
    """
    mid = midstate(header76[:64])
    final1, states1 = compress(mid, header_block2_words(header76, nonces), record=record1)
    first = digest_words(mid, final1)
    final2, states2 = compress(IV, second_hash_words(first), record=record2)
    return words_to_digests(digest_words(IV, final2)), states1, states2


def first_hash_round_state(header76: bytes, nonces: np.ndarray, k: int) -> np.ndarray:
    """State after round ``k`` of block 2 of the first hash, (8, n): only k rounds run."""
    mid = midstate(header76[:64])
    state, _ = compress(mid, header_block2_words(header76, nonces), rounds=k)
    return state


def second_hash_round_state(first_digests: np.ndarray, k: int) -> np.ndarray:
    """State after round ``k`` of the second hash from the first digests (n, 32), (8, n)."""
    state, _ = compress(IV, second_hash_words(digests_to_words(first_digests)), rounds=k)
    return state


def hashlib_first_digests(header76: bytes, nonces: np.ndarray) -> np.ndarray:
    """SHA-256 (single) of every header with hashlib, from a shared midstate object: (n, 32)."""
    base = hashlib.sha256(header76[:64])
    tail = header76[64:]
    out = bytearray(32 * len(nonces))
    pack = struct.Struct("<I").pack
    for i, nonce in enumerate(np.asarray(nonces, dtype=np.uint32).tolist()):
        h = base.copy()
        h.update(tail + pack(nonce))
        out[32 * i : 32 * i + 32] = h.digest()
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(-1, 32)


def hashlib_sha256d(header76: bytes, nonces: np.ndarray) -> np.ndarray:
    """SHA-256d of every header with hashlib (the reference): (n, 32) uint8."""
    base = hashlib.sha256(header76[:64])
    tail = header76[64:]
    sha = hashlib.sha256
    out = bytearray(32 * len(nonces))
    pack = struct.Struct("<I").pack
    for i, nonce in enumerate(np.asarray(nonces, dtype=np.uint32).tolist()):
        h = base.copy()
        h.update(tail + pack(nonce))
        out[32 * i : 32 * i + 32] = sha(h.digest()).digest()
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(-1, 32)


def reference_round_states(block: bytes, chaining: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Plain-Python SHA-256 compression, one block: the state after each round 0..64.

    Independent of the numpy code above (Python ints, masked), for tests.
    """
    mask = 0xFFFFFFFF

    def rotr(x: int, n: int) -> int:
        return ((x >> n) | (x << (32 - n))) & mask

    w = list(struct.unpack(">16I", block))
    for t in range(16, 64):
        s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & mask)
    a, b, c, d, e, f, g, h = chaining
    states = [(a, b, c, d, e, f, g, h)]
    for t in range(64):
        t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + int(K[t]) + w[t]) & mask
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & mask
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) & mask, c, b, a, (t1 + t2) & mask
        states.append((a, b, c, d, e, f, g, h))
    return states
