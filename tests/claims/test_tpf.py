"""Early-abort filter: the round-state SHA-256 against hashlib, the leakage guard against a
planted leak and the published circularity, the AUC on true states reported as it is."""

from __future__ import annotations

import hashlib
import os
import struct

import numpy as np
import pytest

from asic_bridge.errors import LeakageError
from reservoir.tpf import sha256
from reservoir.tpf.dataset import build_dataset, meets_target, target_for_rate
from reservoir.tpf.evaluate import EvalConfig, energy_ledger, evaluate_blocks
from reservoir.tpf.guard import AbortPoint, FeatureBlock, Label, Provenance, guard
from reservoir.tpf.report import published_circularity


def _headers(rng: np.random.Generator, count: int) -> list[bytes]:
    return [rng.bytes(76) for _ in range(count)]


def test_full_sha256d_matches_hashlib_bit_for_bit():
    rng = np.random.default_rng(1)
    for head in _headers(rng, 8):
        nonces = rng.integers(0, 2**32, 257, dtype=np.uint64).astype(np.uint32)
        nonces[:3] = [0, 1, 0xFFFFFFFF]
        digests, _, _ = sha256.sha256d_rounds(head, nonces)
        for nonce, got in zip(nonces.tolist(), digests, strict=True):
            want = hashlib.sha256(hashlib.sha256(head + struct.pack("<I", nonce)).digest()).digest()
            assert got.tobytes() == want


def test_genesis_header():
    genesis = bytes.fromhex(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
        "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
    )
    digests, _, _ = sha256.sha256d_rounds(genesis[:76], np.array([2083236893], dtype=np.uint32))
    assert digests[0].tobytes()[::-1].hex() == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    )


def test_every_round_state_matches_the_plain_reference():
    rng = np.random.default_rng(2)
    head = rng.bytes(76)
    nonces = rng.integers(0, 2**32, 5, dtype=np.uint64).astype(np.uint32)
    every = tuple(range(65))
    digests, states1, states2 = sha256.sha256d_rounds(head, nonces, record1=every, record2=every)
    mid = tuple(int(x) for x in sha256.midstate(head[:64]))
    ref_mid = sha256.reference_round_states(head[:64], tuple(int(x) for x in sha256.IV))[64]
    assert mid == tuple((int(a) + b) & 0xFFFFFFFF for a, b in zip(sha256.IV, ref_mid, strict=True))
    for i, nonce in enumerate(nonces.tolist()):
        block2 = head[64:] + struct.pack("<I", nonce) + b"\x80" + bytes(39) + struct.pack(">Q", 640)
        ref1 = sha256.reference_round_states(block2, mid)
        first = hashlib.sha256(head + struct.pack("<I", nonce)).digest()
        ref2 = sha256.reference_round_states(
            first + b"\x80" + bytes(23) + struct.pack(">Q", 256), tuple(int(x) for x in sha256.IV)
        )
        for r in every:
            assert tuple(int(x) for x in states1[r][:, i]) == ref1[r], f"hash 1 round {r}"
            assert tuple(int(x) for x in states2[r][:, i]) == ref2[r], f"hash 2 round {r}"
    k5_1 = sha256.first_hash_round_state(head, nonces, 5)
    k5_2 = sha256.second_hash_round_state(sha256.hashlib_first_digests(head, nonces), 5)
    assert np.array_equal(k5_1, states1[5]) and np.array_equal(k5_2, states2[5])
    assert np.array_equal(sha256.hashlib_sha256d(head, nonces), digests)


def test_label_equals_the_integer_comparison():
    rng = np.random.default_rng(3)
    target = target_for_rate(0.3)
    digests = np.frombuffer(rng.bytes(32 * 2000), dtype=np.uint8).reshape(-1, 32)
    fast = meets_target(digests, target)
    slow = np.array([int.from_bytes(d.tobytes(), "little") <= target for d in digests])
    assert np.array_equal(fast, slow) and 0.25 < fast.mean() < 0.35


def _planted(n_jobs: int = 12, per_job: int = 400, seed: int = 5):
    rng = np.random.default_rng(seed)
    job = np.repeat(np.arange(n_jobs), per_job)
    y = rng.random(len(job)) < 0.2
    leak = (y + rng.normal(0, 0.5, len(y)))[:, None]
    return job, y, leak, rng


def test_planted_leak_is_predictive_and_refused():
    job, y, leak, _ = _planted()
    label = Label("meets_target", y)
    block = FeatureBlock("leak", leak, ("leak",), Provenance("label", derived_from=("meets_target",)))
    config = EvalConfig(seed=0, n_boot=50, n_perm=200, models=("logistic",))
    audit = evaluate_blocks([block], label, job, AbortPoint(1, 5), config, enforce=False)
    model = audit["models"][0]
    assert model["auc_ci"][0] > 0.8 and model["auc_permutation_p"] < 0.01  # found predictive
    assert "leak" in audit["refused"]
    with pytest.raises(LeakageError, match="computed from the label"):
        evaluate_blocks([block], label, job, AbortPoint(1, 5), config)


def test_guard_refuses_states_after_the_abort_point_and_admits_before():
    y = np.zeros(4, dtype=bool)
    label = Label("meets_target", y)

    def state(h: int, r: int) -> FeatureBlock:
        return FeatureBlock(f"h{h}_r{r}", np.zeros((4, 1)), ("x",), Provenance("sha256_state", h, r))

    guard([state(1, 5), state(1, 4)], label, AbortPoint(1, 5))
    guard([state(1, 5), state(2, 5)], label, AbortPoint(2, 5))
    for late in (state(1, 6), state(2, 1), state(2, 64)):
        with pytest.raises(LeakageError, match="past the abort point"):
            guard([state(1, 5), late], label, AbortPoint(1, 5))
    final = FeatureBlock("final", np.zeros((4, 1)), ("x",), Provenance("final_hash"))
    with pytest.raises(LeakageError, match="after the hash finished"):
        guard([final], label, AbortPoint(2, 64))


def test_published_circularity_is_caught():
    data = build_dataset(n_jobs=8, nonces_per_job=256, k=5, positive_rate=1 / 16, seed=1)
    circ = published_circularity(data, EvalConfig(seed=0))
    reasons = " ".join(r for rs in circ["guard"].values() for r in rs)
    assert "circular" in reasons and "window_shares" in reasons
    assert circ["auc_if_allowed"] > 0.99  # what the published "100 % accuracy" was


def test_auc_on_true_states_is_reported_as_it_is():
    data = build_dataset(n_jobs=12, nonces_per_job=1024, k=5, positive_rate=1 / 8, seed=2)
    config = EvalConfig(seed=0, n_boot=100, n_perm=300, models=("logistic",))
    result = evaluate_blocks([data.block("h1_r5")], data.label, data.job, AbortPoint(1, 5), config)
    model = result["models"][0]
    low, high = model["auc_ci"]
    assert low <= model["auc"] <= high
    assert high - low > 0.01  # an honest interval at this sample size, not a point
    assert low < 0.5 + 0.1 and high > 0.5 - 0.1  # SHA-256 after 5 rounds: near chance
    assert 0 < model["auc_permutation_p"] <= 1
    assert result["n_test"] + result["n_train"] == data.n
    assert 0.06 < result["test_positives"] / result["n_test"] < 0.2  # positive rate is measurable


def test_energy_ledger_random_filter_never_saves_and_matches_hand_count():
    y = np.array([True] + [False] * 9)
    scores = np.arange(10.0)  # the positive has the lowest score: first to be aborted
    rows = energy_ledger(y, scores, AbortPoint(1, 5), fractions=(0.0, 0.1, 0.5))
    assert rows[0]["rounds_per_valid_share_rel"] == 1.0
    assert rows[1]["valid_lost"] == 1.0 and rows[1]["rounds_per_valid_share_rel"] == float("inf")
    rows = energy_ledger(y, -scores, AbortPoint(1, 5), fractions=(0.5,))
    expected = (5 * 5 + 5 * 128) / (10 * 128)  # half aborted at 5 rounds, no share lost
    assert rows[0]["rounds_per_valid_share_rel"] == pytest.approx(expected)


def test_random_headers_random_nonces():
    head = os.urandom(76)
    nonces = np.array([7, 7, 8], dtype=np.uint32)
    d = sha256.hashlib_sha256d(head, nonces)
    assert d[0].tobytes() == d[1].tobytes() != d[2].tobytes()


def test_tpf_is_reproducible_from_its_seed():
    config = EvalConfig(seed=4, n_boot=20, n_perm=50, models=("logistic",))
    runs = []
    for _ in range(2):
        data = build_dataset(n_jobs=4, nonces_per_job=256, k=5, positive_rate=1 / 4, seed=9)
        result = evaluate_blocks([data.block("h1_r5")], data.label, data.job, AbortPoint(1, 5), config)
        m = result["models"][0]
        runs.append((m["auc"], m["auc_ci"], m["auc_permutation_p"], m["mutual_information"]["bits"]))
    assert runs[0] == runs[1]
