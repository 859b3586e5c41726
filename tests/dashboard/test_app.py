"""Every dashboard page through Streamlit's AppTest, checked against the files it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from asic_bridge.errors import CaptureError
from dashboard.data import (
    find_reports,
    inside,
    load_capture,
    predictions_frame,
    report_capture,
    results_table,
    y_domain,
)

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
PAGES = ["reservoir", "captures", "devices", "experiments", "energy_filter", "hashrate", "sweeps",
         "fingerprints", "claims"]


def _page(root: Path, page: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> AppTest:
    monkeypatch.setenv("HASHRC_CAPTURES", str(root))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page != "reservoir":
        at.switch_page(f"views/{page}.py").run()
    return at


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "subheader", "caption", "markdown", "info", "warning",
                                  "success", "error") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_an_empty_folder_and_says_what_is_missing(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _page(tmp_path, page, monkeypatch)
    assert not at.exception, at.exception
    assert at.info or page in ("experiments",), f"{page} shows nothing to say it is empty"


def test_reservoir_page_shows_the_report_figures(captures_root: Path, monkeypatch) -> None:
    at = _page(captures_root, "reservoir", monkeypatch)
    assert not at.exception
    report = json.loads((captures_root / "demo" / "report.json").read_text())
    shown = at.dataframe[0].value
    for row in report["results"]:
        line = shown[shown["readout"] == row["name"]].iloc[0]
        assert line["NRMSE"] == pytest.approx(row["nrmse"], abs=1e-4)
        assert line["CI low"] == pytest.approx(row["nrmse_ci"][0], abs=1e-4)
    text = _text(at)
    assert "RMSE / std(test target)" in text
    assert "does NOT compute" in text and "input_linear_10" in text
    assert "first 200 test steps" in text  # a readable window, not every point


def test_captures_page_shows_counts_of_the_capture(captures_root: Path, monkeypatch) -> None:
    at = _page(captures_root, "captures", monkeypatch)
    assert not at.exception
    view = load_capture(at.sidebar.selectbox[0].value and captures_root / at.sidebar.selectbox[0].value)
    text = _text(at)
    assert f"{view.counts['shares']:,} shares" in text
    assert "chip_temp" in text and "frequency" in text and "Gaps between accepted shares" in text


def test_energy_filter_page_shows_auc_and_bound(captures_root: Path, monkeypatch) -> None:
    at = _page(captures_root, "energy_filter", monkeypatch)
    assert not at.exception
    figures = at.dataframe[0].value
    assert "0.5012" in set(figures["value"]) and "bound" in " ".join(figures["figure"])
    assert "no better than chance" in _text(at)


def test_devices_page_with_a_live_emulated_device(tmp_path: Path, monkeypatch) -> None:
    at = _page(tmp_path, "devices", monkeypatch, HASHRC_DEVICES="emu://lv06?seed=3")
    assert not at.exception
    assert "emu://lv06?seed=3" in _text(at)
    assert at.number_input and at.button  # the knob form


def test_results_table_and_windowed_predictions() -> None:
    from tests.dashboard.conftest import reservoir_report

    report = reservoir_report()
    table = results_table(report)
    assert (table["CI low"] <= table["NRMSE"]).all() and (table["NRMSE"] <= table["CI high"]).all()
    assert len(predictions_frame(report, window=200)) == 200


def test_share_rate_keeps_complete_bins_only(tmp_path: Path) -> None:
    from tests.dashboard.conftest import write_capture

    write_capture(tmp_path / "c.sqlite", seconds=100, rate_per_s=5.0)
    view = load_capture(tmp_path / "c.sqlite", bin_s=30.0)
    assert len(view.rate) == 3  # 0-30, 30-60, 60-90; the partial 90-100 bin is left out
    assert view.rate["shares_per_s"].min() > 2.5  # no half-empty last bin dragging it down


def test_temperature_axis_shows_the_signal() -> None:
    low, high = y_domain([53.0, 53.5, 54.0])
    assert 52 < low < 53 and 54 < high < 55


def test_a_report_naming_a_capture_outside_the_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    (root / "evil").mkdir(parents=True)
    outside = tmp_path / "secret.sqlite"
    outside.write_bytes(b"")
    (root / "evil" / "report.json").write_text(json.dumps({"kind": "narma", "captures": [str(outside)],
                                                           "results": []}))
    (report,) = find_reports(root)
    with pytest.raises(CaptureError, match="outside"):
        report_capture(root, report)
    with pytest.raises(CaptureError, match="outside"):
        inside(root, "../secret.sqlite")
