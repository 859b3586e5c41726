"""Round-state SHA-256d (reservoir.tpf.sha256) against a bare hashlib SHA-256d loop, in
one run, on 1 and 2 processes.

    .venv/bin/python bench/sha256_rounds.py [--n 262144] [--k 5] [--chunk 16384]

Rates are headers per second. "round-k states" = the state after round k of block 2 of
the first hash (numpy, midstate shared) AND after round k of the second hash (its input,
the first digest, from numpy's 64 rounds or from hashlib, whichever is measured faster).
"dataset" = both states plus the label (full SHA-256d from hashlib). The OpenSSL bulk
figure (one long message) is what a compiled kernel without Python per-call overhead
could reach: two compressions per header.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import struct
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from reservoir.tpf import sha256


def _nonces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)


def bare_hashlib(head: bytes, n: int) -> int:
    """The reference: build each 80-byte header and SHA-256d it with hashlib."""
    sha = hashlib.sha256
    pack = struct.Struct("<I").pack
    for nonce in range(n):
        sha(sha(head + pack(nonce)).digest()).digest()
    return n


def states_numpy(head: bytes, n: int, k: int, chunk: int) -> int:
    """Both round-k states, all numpy (64 rounds of block 2 for the second hash's input)."""
    nonces = _nonces(n)
    for i in range(0, n, chunk):
        part = nonces[i : i + chunk]
        mid = sha256.midstate(head[:64])
        final1, _rec = sha256.compress(mid, sha256.header_block2_words(head, part), record=(k,))
        first = sha256.digest_words(mid, final1)
        sha256.compress(sha256.IV, sha256.second_hash_words(first), rounds=k)
    return n


def states_hashlib_first(head: bytes, n: int, k: int, chunk: int) -> int:
    """Both round-k states; the first digest from hashlib, the rounds from numpy."""
    nonces = _nonces(n)
    for i in range(0, n, chunk):
        part = nonces[i : i + chunk]
        sha256.first_hash_round_state(head, part, k)
        sha256.second_hash_round_state(sha256.hashlib_first_digests(head, part), k)
    return n


def dataset_rows(head: bytes, n: int, k: int, chunk: int) -> int:
    """Both round-k states plus the label's full SHA-256d (hashlib)."""
    nonces = _nonces(n)
    for i in range(0, n, chunk):
        part = nonces[i : i + chunk]
        first = sha256.hashlib_first_digests(head, part)
        sha256.first_hash_round_state(head, part, k)
        sha256.second_hash_round_state(first, k)
        b"".join(hashlib.sha256(first[j].tobytes()).digest() for j in range(len(first)))
    return n


def openssl_bulk(_head: bytes, n: int) -> int:
    """2 compressions per header, as one long message: OpenSSL's raw compression rate."""
    hashlib.sha256(bytes(128 * n)).digest()
    return n


def _timed(args: tuple) -> float:
    name, head, n, extra = args
    func = globals()[name]
    start = time.perf_counter()
    func(head, n, *extra)
    return time.perf_counter() - start


def rate(name: str, head: bytes, n: int, extra: tuple, procs: int, pool: ProcessPoolExecutor | None) -> float:
    if procs == 1:
        return n / _timed((name, head, n, extra))
    start = time.perf_counter()
    list(pool.map(_timed, [(name, head, n // procs, extra)] * procs))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1 << 18)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=1 << 14)
    args = parser.parse_args()
    head = os.urandom(76)
    k, chunk, n = args.k, args.chunk, args.n
    rows = [
        ("bare hashlib SHA-256d loop (reference)", "bare_hashlib", ()),
        ("round-k states, all numpy", "states_numpy", (k, chunk)),
        ("round-k states, first digest hashlib", "states_hashlib_first", (k, chunk)),
        ("dataset rows (both states + label)", "dataset_rows", (k, chunk)),
        ("OpenSSL bulk, 2 compressions/header", "openssl_bulk", ()),
    ]
    print(f"n = {n} headers, k = {k}, chunk = {chunk}, cpus = {os.cpu_count()}")
    print(f"{'':44}{'1 proc M/s':>12}{'2 procs M/s':>13}{'ratio to ref (1p)':>19}")
    with ProcessPoolExecutor(2) as pool:
        ref = None
        for label, name, extra in rows:
            r1 = rate(name, head, n, extra, 1, None)
            r2 = rate(name, head, n, extra, 2, pool)
            ref = ref or r1
            print(f"{label:44}{r1 / 1e6:>12.2f}{r2 / 1e6:>13.2f}{r1 / ref:>19.2f}")


if __name__ == "__main__":
    main()
