"""Hashrate: the exact Poisson interval holds its nominal coverage on simulated counts;
the published-case power calculation is right by simulation; the command runs on a capture."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reservoir.hashrate import (
    TWO32,
    effective_hashrate,
    poisson_interval,
    shares_needed,
)


@pytest.mark.parametrize("mean", [0.5, 3.0, 20.0, 150.0])
def test_poisson_interval_has_nominal_coverage(mean):
    rng = np.random.default_rng(int(mean * 10))
    counts = rng.poisson(mean, 4000)
    cache = {c: poisson_interval(c) for c in np.unique(counts)}
    covered = np.mean([cache[c][0] <= mean <= cache[c][1] for c in counts])
    # exact (Garwood) intervals are conservative: at least nominal, never wildly above
    assert 0.94 <= covered <= 0.995, covered


def test_hashrate_interval_covers_the_true_rate_from_simulated_shares():
    rng = np.random.default_rng(7)
    true_ghs, difficulty, duration = 433.6, 256.0, 60.0
    mean = true_ghs * 1e9 * duration / (difficulty * TWO32)
    hits = 0
    for _ in range(1000):
        n = rng.poisson(mean)
        rate = effective_hashrate(np.full(n, difficulty), duration)
        hits += rate["ci"][0] <= true_ghs <= rate["ci"][1]
    assert 0.93 <= hits / 1000 <= 0.995


def test_shares_needed_by_simulation():
    need = shares_needed(175.0, 220.0)
    mu0, crit = need["expected_shares_at_rated"], need["critical_count"]
    rng = np.random.default_rng(3)
    size = rng.poisson(mu0, 20000) >= crit
    power = rng.poisson(mu0 * 220 / 175, 20000) >= crit
    assert size.mean() <= 0.05 + 0.005
    assert power.mean() >= 0.8 - 0.01
    smaller = shares_needed(175.0, 220.0, power=0.5)
    assert smaller["expected_shares_at_rated"] < mu0


def test_hashrate_command_on_an_emulated_capture(tmp_path, capsys):
    from asic_bridge.capture.recorder import record
    from asic_bridge.cli import main

    cap = tmp_path / "cap.sqlite"
    record("emu://lv06?seed=3", cap, duration_s=60.0)
    assert main(["hashrate", str(cap), "--out", str(tmp_path / "hr")]) == 0
    report = json.loads((tmp_path / "hr" / "report.json").read_text())
    low, high = report["hashrate"]["ci"]
    assert low < report["hashrate"]["ghs"] < high
    assert report["hashrate"]["n_shares"] > 10
    assert (tmp_path / "hr" / "report.md").read_text().count("GH/s") > 2
    assert main(["hashrate", str(tmp_path / "missing.sqlite")]) == 2
    assert "no capture file" in capsys.readouterr().err


def test_outcomes_and_job_age_from_a_pool_capture(tmp_path):
    from asic_bridge.capture.metadata import new_capture, pool_metadata
    from asic_bridge.events import JobEvent, ShareEvent, ShareOutcome
    from reservoir.hashrate import analyse_capture

    s = 1_000_000_000
    events = [JobEvent(0, "m", "a", 1.0, True), JobEvent(10 * s, "m", "b", 1.0, True)]
    outcomes = [ShareOutcome.ACCEPTED] * 6 + [ShareOutcome.STALE, ShareOutcome.DUPLICATE]
    for i, outcome in enumerate(outcomes):
        job = "a" if i < 4 else "b"
        t = (i + 1) * 2 * s
        events.append(ShareEvent(t, "m", job, i, 1.0, 2.0, outcome))
    with new_capture(tmp_path / "p.sqlite", pool_metadata(task="pool", difficulty=1.0)) as writer:
        writer.write_many(events)
    report = analyse_capture(tmp_path / "p.sqlite", rated_ghs=1.0)
    o = report["outcomes"]
    assert (o["accepted"]["count"], o["stale"]["count"], o["duplicate"]["count"]) == (6, 1, 1)
    assert o["stale"]["ci"][0] < 1 / 8 < o["stale"]["ci"][1]
    assert report["duration_source"].startswith("first to last share")
    assert report["hashrate"]["n_shares"] == 6
    ages = report["latency"]["job_age_s"]
    assert ages["n"] == 8 and ages["median"] == pytest.approx(4.0)
    assert report["latency"]["answer_recorded"] is False
