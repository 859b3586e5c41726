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
# ESP-Miner's queue (10 works x 2 s) holds the LV06 on the older job ~21 s after a
# clean_jobs=false notify: a lead of 25 s covers it, the default 3 s does not
LONG_LEAD = PolicyConfig(duration_s=300.0, seeds=(0, 1), lead_s=25.0)


@pytest.fixture(scope="module")
def lv06() -> dict:
    return compare("lv06", LONG_LEAD)


def test_latency_hiding_is_not_staler_than_normal_on_the_same_shares(lv06: dict) -> None:
    """With a lead that covers the firmware's switch time (LV06 25 s; S9 3 s)."""
    s9 = compare("s9", SHORT)
    for report in (lv06, s9):
        arms = report["arms"]
        n = arms["normal"]["shares_submitted"]
        assert n == arms["latency-hiding"]["shares_submitted"] > 200  # the same shares
        assert arms["latency-hiding"]["stale"] <= arms["normal"]["stale"]
        for new, old in zip(arms["latency-hiding"]["per_seed"], arms["normal"]["per_seed"], strict=True):
            assert new["stale"] <= old["stale"]
        # ... and it gains nothing over clean_jobs=false timer jobs (the pools' practice)
        control = report["comparisons"]["latency-hiding vs normal-nonclean"]
        assert control["verdict"].startswith("noise"), control["verdict"]


def test_a_lead_shorter_than_the_firmware_queue_loses_shares() -> None:
    """Announced 3 s early, the older job expires while the LV06 still hashes the work
    queued for it: stale rises far above normal; without a queue it would not."""
    cache: dict = {}
    normal = simulate("lv06", "normal", 0, SHORT, cache)
    short = simulate("lv06", "latency-hiding", 0, SHORT, cache)
    long = simulate("lv06", "latency-hiding", 0, LONG_LEAD, cache)
    unqueued = PolicyConfig(duration_s=300.0, seeds=(0,), queue_depth=0)
    no_queue = simulate("lv06", "latency-hiding", 0, unqueued, cache)
    assert normal.submitted == short.submitted == long.submitted == no_queue.submitted
    assert short.stale > normal.stale + 0.2 * normal.submitted
    assert long.stale <= normal.stale
    assert no_queue.stale <= normal.stale + 2


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
