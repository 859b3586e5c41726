"""Job policies on the emulator's network model: latency-hiding is never staler than
normal on the same shares; the lead time matters; a difference inside its interval is
labelled noise (synthetic counts); the command writes its report."""

from __future__ import annotations

import json

import pytest

from reservoir.job_policy import (
    PolicyConfig,
    RunResult,
    _arm_summary,
    compare,
    noise_label,
    paired_difference,
    simulate,
    unpaired_ratio,
)

SHORT = PolicyConfig(duration_s=300.0, seeds=(0, 1))


@pytest.fixture(scope="module")
def lv06() -> dict:
    return compare("lv06", SHORT)


def test_latency_hiding_is_not_staler_than_normal_on_the_same_shares(lv06: dict) -> None:
    arms = lv06["arms"]
    n = arms["normal"]["shares_submitted"]
    assert n == arms["latency-hiding"]["shares_submitted"] > 200  # the same shares
    assert arms["latency-hiding"]["stale"] <= arms["normal"]["stale"]
    # per seed, too
    for new, old in zip(arms["latency-hiding"]["per_seed"], arms["normal"]["per_seed"], strict=True):
        assert new["stale"] <= old["stale"]
    # on the LV06 (2 s firmware dispatch) clean rotations lose a measurable share of work
    gain = lv06["comparisons"]["latency-hiding vs normal"]
    assert gain["effective_hashrate_gain_ci"][0] > 0
    # ... which clean_jobs=false timer jobs (the pools' practice) recover just as well
    control = lv06["comparisons"]["latency-hiding vs normal-nonclean"]
    assert control["verdict"].startswith("noise")


def test_a_lead_shorter_than_the_switch_time_loses_shares() -> None:
    """Announced 0 s early the old job expires before the miner can switch: stale rises."""
    cache: dict = {}
    early = simulate("lv06", "latency-hiding", 0, SHORT, cache)
    no_lead = PolicyConfig(duration_s=300.0, seeds=(0,), lead_s=0.0)
    late = simulate("lv06", "latency-hiding", 0, no_lead, cache)
    assert early.submitted == late.submitted
    assert late.stale > early.stale + 3


def test_same_seed_same_result() -> None:
    a = simulate("lbbox", "latency-hiding", 3, PolicyConfig(duration_s=120.0, seeds=(3,)))
    b = simulate("lbbox", "latency-hiding", 3, PolicyConfig(duration_s=120.0, seeds=(3,)))
    assert a.accepted_mask == b.accepted_mask and a.notifies == b.notifies


def test_difference_inside_its_interval_is_labelled_noise() -> None:
    small = paired_difference(b=6, c=3, n=1000)  # 3 more accepted of 1000: inside
    assert small["ci"][0] < 0 < small["ci"][1]
    assert noise_label(small["diff"], small["ci"]).startswith("noise")
    big = paired_difference(b=60, c=2, n=1000)
    assert big["ci"][0] > 0 and noise_label(big["diff"], big["ci"]).startswith("gain")
    loss = paired_difference(b=1, c=60, n=1000)
    assert noise_label(loss["diff"], loss["ci"]).startswith("loss")
    # two separate runs of 1,000 vs 950 shares: a 5 % "gain" inside the interval
    ratio = unpaired_ratio(1000, 950)
    assert ratio["ci"][0] < 1 < ratio["ci"][1]
    assert noise_label(ratio["ratio"] - 1, (ratio["ci"][0] - 1, ratio["ci"][1] - 1)).startswith("noise")


def test_rate_above_nominal_inside_its_interval_is_noise() -> None:
    # difficulty 1, 1 s: each accepted share is 2**32 H = 4.295 GH/s
    def arm(accepted: int) -> dict:
        run = RunResult("x", 0, 1.0, 1.0, submitted=accepted, accepted=accepted,
                        accepted_mask=[True] * accepted)
        return _arm_summary([run], nominal_ghs=100 * 2**32 / 1e9)

    assert arm(110)["verdict_vs_nominal"] == "above nominal but inside the interval: noise"
    assert arm(140)["verdict_vs_nominal"] == "above nominal beyond the interval"
    assert arm(70)["verdict_vs_nominal"] == "below nominal beyond the interval"


def test_policy_compare_command_writes_the_report(tmp_path, capsys) -> None:
    from asic_bridge.cli import main

    out = tmp_path / "h"
    code = main(["hashrate", "--policy-compare", "emu://lbbox", "--seeds", "1", "--policy-duration", "120",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())["job_policy"]
    assert report["model"] == "lbbox"
    assert set(report["arms"]) == {"normal", "latency-hiding", "normal-nonclean"}
    assert "latency-hiding vs normal" in capsys.readouterr().out
    assert "| latency-hiding |" in (out / "report.md").read_text()
    assert main(["hashrate", "--policy-compare", "emu://nope", "--out", str(out)]) == 2
