"""Emulated live miners over loopback: real Stratum clients, real nonces, physics timing.

Rates are kept host-affordable: a share at difficulty D costs D * 2**32 hashes and one
worker process hashes ~1.5 MH/s, so the tests run at 1e-6..1e-4 with a hash-rate scale
chosen for a few to a few tens of shares per second.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asic_bridge.capture import CaptureWriter, open_capture
from asic_bridge.events import ShareEvent, ShareOutcome
from asic_bridge.hashing import DIFF1_TARGET, sha256d
from asic_bridge.stratum.jobs import Job, SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.server import ServerThread
from emulator.live import LiveEmulator
from emulator.mining import spread_bits, work_coordinates
from emulator.stratum_miner import MinerFarmThread, StratumMinerFarm, run_stratum_miners

MASK = 0x1FFFE000


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    """multiprocessing's spawn method runs one resource-tracker process for the life of
    the interpreter (not one per pool); start it before the per-test leak check looks."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def scale_for(model: str, rate_hz: float, difficulty: float) -> float:
    """The hash-rate scale giving ``rate_hz`` shares/s at ``difficulty`` (nominal clock)."""
    live = LiveEmulator(model, seed=0)
    hashrate_hs = sum(live.hashrate_hs(c) for c in range(live.chip_count))
    return rate_hz * difficulty * 2**32 / hashrate_hs


def make_pool(sink: Any, difficulty: float, *, lbry: bool = False, **config: Any) -> ServerThread:
    cfg = {"difficulty": difficulty, "job_interval_s": None, **config}
    source = SyntheticJobSource(seed=7, lbry=lbry)
    return ServerThread(Pool(PoolConfig(**cfg), job_source=source, sink=sink, seed=1))


def shares_of(events: list[Any]) -> list[ShareEvent]:
    return [e for e in events if isinstance(e, ShareEvent)]


def test_work_coordinates_count_extranonce2_little_endian_and_roll_inside_mask() -> None:
    seen = set()
    for i in range(2000):
        en2, bits, block = work_coordinates(i, extranonce2_size=4, version_mask=MASK)
        assert bits & ~MASK == 0 and block == 0
        seen.add((en2, bits))
    assert len(seen) == 2000
    assert work_coordinates(16, extranonce2_size=4, version_mask=MASK)[0] == bytes.fromhex("01000000")
    assert work_coordinates(1, extranonce2_size=4, version_mask=MASK)[1] == 0x2000
    # no mask: one header per extranonce2; a 1-byte counter wraps into nonce blocks
    assert work_coordinates(3, extranonce2_size=4, version_mask=0) == (b"\x03\0\0\0", 0, 0)
    assert work_coordinates(256 + 5, extranonce2_size=1, version_mask=0) == (b"\x05", 0, 1)
    assert spread_bits(0b101, 0b1011_0000) == 0b1001_0000


def test_miners_mine_real_shares_accepted_and_recorded(tmp_path: Path) -> None:
    difficulty = 1e-5
    path = tmp_path / "pool.sqlite"
    with (
        CaptureWriter(path, metadata={"device_model": "lv06"}) as capture,
        make_pool(capture.write, difficulty) as srv,
    ):
        farm = StratumMinerFarm("lv06", *srv.address, count=2, workers=2,
                                hashrate_scale=scale_for("lv06", 3.0, difficulty))
        found_ns: dict[str, list[int]] = {}
        with MinerFarmThread(farm):
            for miner in farm.miners:  # when the model says the host receives each share
                times = found_ns.setdefault(miner.user, [])
                miner.live.subscribe_shares(
                    lambda e, t=times, live=miner.live: t.append(
                        round((live.monotonic_at(e.t_ns) + time.time() - time.monotonic()) * 1e9)
                    )
                )
            time.sleep(3.5)
            sessions = srv.server.sessions()
        stats = farm.stats()
    assert {s.user for s in sessions} == {"hashrc.LV06-EMU-0001", "hashrc.LV06-EMU-0002"}
    for m in stats.miners:
        assert m.submitted >= 3, m  # 3 shares/s for 3.5 s: ~10 expected
        assert m.rejected == {} and m.accepted <= m.submitted
        assert m.version_mask == MASK and m.difficulty == difficulty
        assert m.model_shares == m.submitted + m.starved + m.lost_at_switch + m.idle
    with open_capture(path) as reader:
        shares = list(reader.events("shares"))
    assert len(shares) == stats.total("submitted")
    assert {s.outcome for s in shares} == {ShareOutcome.ACCEPTED}
    assert all(s.share_difficulty >= difficulty for s in shares)
    assert all(s.version_bits & ~MASK == 0 for s in shares)
    assert any(s.version_bits for s in shares), "the version is rolled"
    assert len({s.device for s in shares}) == 2
    # a loaded host may starve a share while the buffers fill; never a fake one
    assert all("starved" in w for w in stats.warnings), stats.warnings
    assert sum(m.starved for m in stats.miners) <= stats.total("model_shares") // 4
    # each share reaches the pool when the model says the host receives it (not when it
    # was mined, nor on the model's tick): within a few ms of that modelled time
    lags_ms = []
    for s in shares:
        handed = found_ns[s.device.split("/")[0]]
        lags_ms.append(min(abs(s.t_ns - t) for t in handed) / 1e6)
    # (p90 is ~1 ms on a quiet host; 15 ms leaves room for a loaded 2-core machine and is
    # still far below the ~300 ms between shares, so a share sent on the tick would fail)
    assert sorted(lags_ms)[int(0.9 * len(lags_ms))] < 15.0, [round(x, 1) for x in sorted(lags_ms)]


def test_changed_difficulty_changes_share_rate() -> None:
    low, high = 1e-6, 4e-6
    scale = scale_for("lv06", 40.0, low)  # 40 shares/s at low, 10 at high
    events: list[Any] = []
    with make_pool(events.append, low) as srv:
        farm = StratumMinerFarm("lv06", *srv.address, count=1, workers=2, hashrate_scale=scale)
        with MinerFarmThread(farm):
            time.sleep(0.8)
            a0 = time.time_ns()
            time.sleep(3.0)
            a1 = time.time_ns()
            srv.server.set_difficulty(high)
            time.sleep(0.3)
            b0 = time.time_ns()
            time.sleep(3.0)
            b1 = time.time_ns()
            live = farm.miners[0].live
            ok_hs = sum(live.hashrate_hs(c) * (1 - live.hw_error_probability(c))
                        for c in range(live.chip_count))
        stats = farm.stats()
    shares = shares_of(events)
    assert {s.outcome for s in shares} == {ShareOutcome.ACCEPTED}
    n_low = sum(a0 <= s.t_ns < a1 for s in shares)
    n_high = sum(b0 <= s.t_ns < b1 for s in shares)
    expected_low = ok_hs * scale / (low * 2**32) * 3.0
    expected_high = ok_hs * scale / (high * 2**32) * 3.0
    # Poisson: ~120 +- 11 and ~30 +- 5.5
    assert 0.6 * expected_low <= n_low <= 1.4 * expected_low, (n_low, expected_low)
    assert 0.45 * expected_high <= n_high <= 1.6 * expected_high, (n_high, expected_high)
    assert 2.0 <= n_low / max(n_high, 1) <= 8.0
    assert all(s.share_difficulty >= high for s in shares if s.t_ns >= b0)
    # a loaded host may starve a few shares (counted and reported, never faked)
    assert stats.total("starved") <= stats.total("model_shares") // 10 and stats.miners[0].difficulty == high


def test_unaffordable_rate_starves_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    difficulty = 1e-4  # 429,000 hashes per share
    events: list[Any] = []
    caplog.set_level(logging.WARNING, logger="hashrc.emulator.stratum")
    with make_pool(events.append, difficulty) as srv:
        farm = StratumMinerFarm("lv06", *srv.address, count=1, workers=1,
                                hashrate_scale=scale_for("lv06", 100.0, difficulty))
        with MinerFarmThread(farm):
            time.sleep(2.5)
        stats = farm.stats()
    miner = stats.miners[0]
    assert miner.starved >= 40, miner
    assert miner.submitted < miner.starved
    # every share the pool saw is a genuine one, none below the target
    shares = shares_of(events)
    assert len(shares) == miner.submitted
    assert {s.outcome for s in shares} <= {ShareOutcome.ACCEPTED}
    assert miner.submitted <= miner.solutions_found
    warnings = [r.getMessage() for r in caplog.records if "starved" in r.getMessage()]
    assert warnings and warnings == stats.warnings[: len(warnings)]
    assert "H/s" in warnings[0] and "1 worker" in warnings[0] and "none faked" in warnings[0]


def test_hardware_errors_are_counted_not_submitted() -> None:
    difficulty = 2e-6
    events: list[Any] = []
    with make_pool(events.append, difficulty) as srv:
        farm = StratumMinerFarm("lv06", *srv.address, count=1, workers=1,
                                hashrate_scale=scale_for("lv06", 20.0, difficulty))
        with MinerFarmThread(farm):
            live = farm.miners[0].live
            live.set_frequency_mhz(600.0)  # past fmax: ~60 % wrong results
            time.sleep(2.5)
        stats = farm.stats()
    model = live.snapshot()  # the model's own count of valid shares and wrong results
    miner = stats.miners[0]
    # wrong results never reach the miner as shares: the model's firmware counts them
    # (at the chip's ticket difficulty) and the miner submits only valid ones
    assert live.hw_error_probability(0) > 0.3 and miner.submitted >= 3, miner
    assert model["hw_errors"] >= 0  # counted at the chip's ticket difficulty: few in 2.5 s
    assert miner.hardware_errors == 0
    assert miner.model_shares == model["shares_accepted"]
    shares = shares_of(events)
    assert len(shares) == miner.submitted <= miner.model_shares
    assert {s.outcome for s in shares} == {ShareOutcome.ACCEPTED}


def test_lbbox_mines_lbry_proof_of_work() -> None:
    difficulty = 1e-6
    events: list[Any] = []
    with make_pool(events.append, difficulty, lbry=True) as srv:
        farm = StratumMinerFarm("lbbox", *srv.address, count=1, workers=2,
                                hashrate_scale=scale_for("lbbox", 8.0, difficulty))
        with MinerFarmThread(farm):
            time.sleep(2.5)
            assert farm.miners[0].client is not None
            job = farm.miners[0].client.job
        stats = farm.stats()
    assert job is not None and job.is_lbry
    shares = shares_of(events)
    assert len(shares) >= 5 and {s.outcome for s in shares} == {ShareOutcome.ACCEPTED}
    assert stats.miners[0].version_mask == 0 and all(s.version_bits == 0 for s in shares)


# --- a scripted pool: message order and the pool-to-client methods ----------------------


class ScriptedPool:
    """A blocking loopback listener that plays the pool by hand (one test thread)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.conn: socket.socket | None = None
        self.buffer = b""

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.getsockname()

    def accept(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)
        self.buffer = b""

    def send(self, obj: dict[str, Any]) -> None:
        assert self.conn is not None
        self.conn.sendall(json.dumps(obj).encode() + b"\n")

    def read(self, deadline: float) -> dict[str, Any] | None:
        """Next message, or None at EOF; fails after ``deadline`` (monotonic s)."""
        assert self.conn is not None
        while b"\n" not in self.buffer:
            assert time.monotonic() < deadline, "pool script timed out"
            data = self.conn.recv(65536)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def _verify(job: Job, en1: bytes, params: list[str], difficulty: float, mask: int) -> None:
    """Rebuild and hash a submitted share independently of the pool code."""
    _, job_id, en2_hex, ntime_hex, nonce_hex, bits_hex = params
    assert job_id == job.job_id and len(en2_hex) == 8 and len(nonce_hex) == 8
    assert int(ntime_hex, 16) == job.ntime
    bits = int(bits_hex, 16)
    assert bits & ~mask == 0
    header = job.header(en1, bytes.fromhex(en2_hex), ntime=job.ntime, nonce=int(nonce_hex, 16),
                        version=job.version ^ bits)
    assert DIFF1_TARGET / max(int.from_bytes(sha256d(header), "little"), 1) >= difficulty
    assert int.from_bytes(bytes.fromhex(en2_hex), "little") < 100_000  # little-endian counter


@pytest.fixture
def scripted() -> Iterator[ScriptedPool]:
    pool = ScriptedPool()
    yield pool
    pool.close()


def test_esp_miner_message_order_and_pool_methods(scripted: ScriptedPool) -> None:
    difficulty = 1e-6
    job = SyntheticJobSource(seed=5, base_ntime=1_700_000_000).make_job("j1")
    farm = StratumMinerFarm("lv06", *scripted.address, count=1, workers=1,
                            hashrate_scale=scale_for("lv06", 20.0, difficulty),
                            suggest_difficulty=0.001, reconnect_min_s=0.1)
    deadline = time.monotonic() + 20
    with MinerFarmThread(farm):
        scripted.accept()
        hello = [scripted.read(deadline) for _ in range(4)]
        assert [m["method"] for m in hello if m] == [
            "mining.configure", "mining.subscribe", "mining.authorize", "mining.suggest_difficulty"]
        assert hello[0]["params"] == [["version-rolling"], {"version-rolling.mask": "ffffffff"}]
        assert hello[2]["params"][0] == "hashrc.LV06-EMU-0001"
        ids = [m["id"] for m in hello]
        scripted.send({"id": ids[0], "result": {"version-rolling": True,
                                                "version-rolling.mask": "1fffe000"}, "error": None})
        scripted.send({"id": ids[1], "result": [[["mining.notify", "1"]], "abcd0001", 4],
                       "error": None})
        scripted.send({"id": ids[2], "result": True, "error": None})
        scripted.send({"id": ids[3], "result": True, "error": None})
        scripted.send({"id": None, "method": "mining.set_difficulty", "params": [difficulty]})
        scripted.send({"id": None, "method": "mining.notify", "params": job.notify_params()})

        en1, mask = bytes.fromhex("abcd0001"), MASK
        steps = ["ping", "message", "mask", "extranonce", "reconnect"]
        changed_s = time.monotonic()
        submits = pong = 0
        while steps:
            msg = scripted.read(deadline)
            assert msg is not None
            if msg.get("method") == "mining.submit":
                submits += 1
                if time.monotonic() - changed_s > 0.3:  # past the in-flight ones
                    _verify(job, en1, msg["params"], difficulty, mask)
                scripted.send({"id": msg["id"], "result": True, "error": None})
            elif msg.get("result") == "pong":
                assert msg["id"] == 99
                pong += 1
            if submits < 4 * (6 - len(steps)):
                continue
            step = steps.pop(0)
            changed_s = time.monotonic()
            if step == "ping":
                scripted.send({"id": 99, "method": "mining.ping", "params": []})
            elif step == "message":
                scripted.send({"id": None, "method": "client.show_message", "params": ["hello"]})
            elif step == "mask":
                mask = 0x00FFE000
                scripted.send({"id": None, "method": "mining.set_version_mask",
                               "params": ["00ffe000"]})
            elif step == "extranonce":
                en1 = bytes.fromhex("abcd0002")
                scripted.send({"id": None, "method": "mining.set_extranonce",
                               "params": ["abcd0002", 4]})
            else:
                scripted.send({"id": None, "method": "client.reconnect", "params": ["", 0, 0]})
        assert pong == 1
        # the miner hangs up and comes back with the same handshake
        while scripted.read(deadline) is not None:
            pass
        scripted.accept()
        again = scripted.read(deadline)
        assert again is not None and again["method"] == "mining.configure"
        stats = farm.stats()
    miner = stats.miners[0]
    assert miner.connects == 2 and miner.messages == ["hello"]
    assert miner.accepted >= 16


def test_run_stratum_miners_runs_until_stopped_and_reports() -> None:
    lines: list[str] = []
    with make_pool(None, 1e-5) as srv:
        stop = threading.Event()
        timer = threading.Timer(2.0, stop.set)
        timer.start()
        try:
            code = run_stratum_miners("lv06", *srv.address, count=2, seed=3, stop=stop, workers=1,
                                      out=lines.append)
        finally:
            timer.cancel()
            timer.join()
    assert code == 0
    assert "2 lv06 miner(s)" in lines[0] and "H/s" in lines[0]
    assert "accepted" in lines[-1]


def test_run_stratum_miners_without_a_pool_returns_1() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again before the miners try it
    assert run_stratum_miners("s9", "127.0.0.1", port, duration_s=1.0, workers=1,
                              out=lambda _: None) == 1
