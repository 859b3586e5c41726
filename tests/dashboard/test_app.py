"""The dashboard through Streamlit's AppTest, on a real (small) run."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import predictions_frame, results_table, traces
from reservoir.experiment import ExperimentConfig, run_experiment

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    run_experiment(ExperimentConfig(steps=500, washout=100, seed=3), root / "demo")
    return root


def test_data_functions(run_dir: Path) -> None:
    import json

    report = json.loads((run_dir / "demo" / "report.json").read_text())
    table = results_table(report)
    assert list(table["readout"]) == ["device", "mean", "input_linear_10", "device_shuffled",
                                      "esn_matched"]
    assert (table["CI low"] <= table["NRMSE"]).all() and (table["NRMSE"] <= table["CI high"]).all()
    frame = predictions_frame(report)
    assert len(frame) == report["split"]["test"]
    rate, temps = traces(run_dir / "demo" / "capture.sqlite")
    assert len(rate) > 10 and rate["shares/s"].mean() > 0
    assert "chip_temp" in temps.columns


def test_app_shows_table_with_intervals_and_the_normalisation(run_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("HASHRC_CAPTURES", str(run_dir))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert set(frame["readout"]) == {"device", "mean", "input_linear_10", "device_shuffled",
                                     "esn_matched"}
    assert {"CI low", "CI high"} <= set(frame.columns)
    captions = " ".join(c.value for c in at.caption)
    assert "RMSE / std(test target)" in captions
    assert len(at.warning) + len(at.success) == 1  # the verdict is always stated
    titles = " ".join(s.value for s in at.subheader)
    assert "Predicted vs target" in titles and "Share rate" in titles and "temperature" in titles


def test_app_without_runs_says_how_to_make_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HASHRC_CAPTURES", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "hashrc demo" in at.info[0].value
