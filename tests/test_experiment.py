import json
from pathlib import Path

import numpy as np
import pytest

from asic_bridge.capture import CaptureReader
from reservoir.experiment import ExperimentConfig, run_experiment
from reservoir.features import features_from_capture, share_features, telemetry_features

SMALL = dict(steps=600, washout=100)


def _strip_wall(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("wall_seconds", "speed_ratio")}


def test_report_schema_and_determinism(tmp_path: Path) -> None:
    config = ExperimentConfig(device="lv06", encoding="difficulty", seed=5, **SMALL)
    first = run_experiment(config, tmp_path / "a")
    second = run_experiment(config, tmp_path / "b")
    assert _strip_wall(first) == _strip_wall(second)
    on_disk = json.loads((tmp_path / "a" / "report.json").read_text())
    assert _strip_wall(on_disk) == _strip_wall(first)
    for key in ("task", "device", "encoding", "seed", "steps", "nrmse_normalisation",
                "results", "sim_seconds", "wall_seconds"):
        assert key in on_disk
    assert on_disk["nrmse_normalisation"] == "std"
    names = [r["name"] for r in on_disk["results"]]
    assert names == ["device", "mean", "input_linear_10", "device_shuffled", "esn_matched"]
    for r in on_disk["results"]:
        low, high = r["nrmse_ci"]
        assert low <= r["nrmse"] <= high and len(r["per_seed"]) == 3
    assert (tmp_path / "a" / "capture.sqlite").exists()
    assert len(list((tmp_path / "a" / "replicates").glob("*.sqlite"))) == 2
    other = run_experiment(ExperimentConfig(device="lv06", encoding="difficulty", seed=6, **SMALL),
                           tmp_path / "c")
    assert other["results"][0]["per_seed"] != first["results"][0]["per_seed"]


def test_features_come_from_the_capture_and_ignore_ground_truth(tmp_path: Path) -> None:
    config = ExperimentConfig(device="lv06", encoding="frequency", seed=1, n_seeds=3, **SMALL)
    run_experiment(config, tmp_path)
    capture = tmp_path / "capture.sqlite"
    before = features_from_capture(capture)
    assert before.values.shape[0] == 600
    assert "frequency" not in before.names  # the set-point echo is not a device response
    assert "chip_temp" in before.names and "share_count" in before.names
    with CaptureReader(capture) as reader:
        meta = reader.metadata()
        assert len(meta["input_u"]) == 600 and meta["encoder"] == "frequency"
    import sqlite3

    with sqlite3.connect(capture) as conn:  # scramble the emulator's ground truth
        conn.execute("UPDATE shares SET t_found_ns = 0")
    after = features_from_capture(capture)
    assert np.array_equal(before.values, after.values)


def test_share_features_by_hand() -> None:
    t = np.array([0.1, 0.3, 0.9, 1.5, 2.2, 2.4, 2.45]) * 1e9
    accepted = np.array([True, True, True, True, True, False, True])
    chip = np.array([0, 1, 1, 0, 1, 1, 0])
    starts = np.array([0, 1, 2]) * 10**9
    ends = np.array([1, 2, 3]) * 10**9
    names, x = share_features(t.astype(np.int64), accepted, chip, starts, ends, 2, 1.0)
    col = dict(zip(names, x.T, strict=True))
    assert list(col["share_count"]) == [3, 1, 2]
    assert list(col["hw_error_count"]) == [0, 0, 1]
    assert col["interarrival_mean_s"][0] == pytest.approx(0.4)  # gaps 0.2, 0.6
    assert col["interarrival_cv"][0] == pytest.approx(0.2 / 0.4)
    assert col["interarrival_mean_s"][1] == pytest.approx(0.6)  # gap back to step 0
    assert col["interarrival_cv"][1] == 0.0
    assert list(col["chip0_count"]) == [1, 1, 1] and list(col["chip1_count"]) == [2, 0, 1]


def test_telemetry_features_forward_fill_and_skip_echoes() -> None:
    t = np.array([0.5, 2.5, 0.5]) * 1e9
    q = np.array(["chip_temp", "chip_temp", "frequency"])
    v = np.array([50.0, 52.0, 485.0])
    starts = np.array([0, 1, 2]) * 10**9
    ends = np.array([1, 2, 3]) * 10**9
    names, x = telemetry_features(t.astype(np.int64), q, v, starts, ends)
    assert names == ["chip_temp"]
    assert list(x[:, 0]) == [50.0, 50.0, 52.0]
    names, _ = telemetry_features(t.astype(np.int64), q, v, starts, ends, include_echoes=True)
    assert names == ["chip_temp", "frequency"]


def test_fewer_than_three_seeds_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 seeds"):
        run_experiment(ExperimentConfig(n_seeds=2, **SMALL), tmp_path)
