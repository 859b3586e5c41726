"""Timing statistics: the exponential test rejects a non-Poisson stream and accepts a
Poisson one at its nominal rate; the sweep runs on the three emulated models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reservoir.timing import exponential_test, host_jitter_floor, timing_stats


def test_exponential_test_holds_its_level_on_poisson_streams():
    rng = np.random.default_rng(11)
    n_streams = 400
    rejected = sum(exponential_test(rng.exponential(0.37, 150))["p_value"] < 0.05 for _ in range(n_streams))
    # nominal 5 %: binomial sd over 400 streams is about 1.1 %
    assert 0.02 <= rejected / n_streams <= 0.085, rejected


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.gamma(3.0, 1.0, n),  # too regular (CV 0.58): firmware-like batching
        lambda rng, n: np.where(
            rng.random(n) < 0.2, rng.exponential(5.0, n), rng.exponential(0.2, n)
        ),  # bursty
    ],
    ids=["regular", "bursty"],
)
def test_exponential_test_rejects_non_poisson_streams(draw):
    rng = np.random.default_rng(12)
    rejected = sum(exponential_test(draw(rng, 150))["p_value"] < 0.05 for _ in range(100))
    assert rejected >= 90, rejected


def test_timing_stats_on_a_poisson_stream_cover_the_truth():
    rng = np.random.default_rng(5)
    t_ns = (np.cumsum(rng.exponential(0.5, 800)) * 1e9).astype(np.int64)
    s = timing_stats(t_ns, rng, window_s=2.0)
    assert s["shares"] == 800
    low, high = s["cv"]["ci"]
    assert low <= 1.0 <= high
    d = s["dispersion_index"]
    assert d["ci"][0] <= 1.0 <= d["ci"][1] and d["windows"] > 100
    assert s["exponential_test"]["n"] == 799


def test_host_jitter_floor_is_measured_on_loopback():
    j = host_jitter_floor(n=50, period_s=0.001)
    assert j["n"] >= 10 and 0 < j["median_us"] < 1e6 and j["p99_us"] >= j["median_us"]


@pytest.mark.parametrize("model", ["lv06", "s9", "lbbox"])
def test_sweep_runs_on_each_emulated_model(model, tmp_path):
    from asic_bridge.cli import main
    from asic_bridge.models import SPECS

    spec = SPECS[model]
    out = tmp_path / model
    grid = [
        "--voltages",
        f"{spec.default_core_mv:g}",
        "--difficulties",
        f"{spec.nominal_hashrate_ghs / 43:.3g}",
    ]
    args = ["sweep", "--device", model, "--hold-s", "15", "--settle-s", "1", "--out", str(out), *grid]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert len(report["cells"]) == 3  # default clocks x one voltage x one difficulty (about 10 shares/s)
    assert all(c["shares"] > 5 for c in report["cells"])
    assert (out / "heatmap_cv.png").stat().st_size > 1000
    assert "jitter floor" in (out / "report.md").read_text()


def test_sweep_refuses_an_unsafe_clock(tmp_path, capsys):
    from asic_bridge.cli import main

    code = main(["sweep", "--device", "lv06", "--frequencies", "5000", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_sweep_is_reproducible_from_its_seed(tmp_path):
    from reservoir.sweep import SweepConfig, run_sweep

    # 434 GH/s at difficulty 50 is about 2 shares/s: 40 expected in 20 s
    config = SweepConfig(frequencies_mhz=(485.0,), voltages_mv=(1200.0,), difficulties=(50.0,), hold_s=20.0)
    a = run_sweep("emu://lv06?seed=3", tmp_path / "a", config)["cells"]
    b = run_sweep("emu://lv06?seed=3", tmp_path / "b", config)["cells"]
    assert a == b and a[0]["shares"] > 20
