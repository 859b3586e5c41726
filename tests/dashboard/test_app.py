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
    at.sidebar.selectbox[0].set_value("demo").run()
    report = json.loads((captures_root / "demo" / "report.json").read_text())
    shown = at.dataframe[0].value
    for task, content in report["results"].items():
        score = content["score"]
        for row in content["rows"]:
            line = shown[(shown["readout"] == row["name"]) & (shown["task"] == task)].iloc[0]
            assert line["value"] == pytest.approx(row[score], abs=1e-4)
            assert line["CI low"] == pytest.approx(row[f"{score}_ci"][0], abs=1e-4)
            if "p_holm" in row:
                assert line["p (Holm)"] == pytest.approx(row["p_holm"])
    text = _text(at)
    assert "RMSE / std(test target)" in text
    assert "narma10: the device does NOT compute: it does not beat 2 of 4 required controls" in text
    assert "best input-only control input_quadratic_30 0.109" in text
    assert "best input-only control input_leaky 4.750" in text  # MC: higher is better
    assert "first 200 test steps" in text  # a readable window, not every point
    assert "Memory capacity per delay" in text


def test_reservoir_page_reads_the_first_demo_reports_too(captures_root: Path, monkeypatch) -> None:
    at = _page(captures_root, "reservoir", monkeypatch)
    at.sidebar.selectbox[0].set_value("first-demo").run()
    assert not at.exception
    assert "device 0.950 [0.940, 0.960]; best input-only control input_linear_10 0.590" in _text(at)


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
    shown = at.dataframe[0].value.iloc[0]
    assert shown["ROC AUC"] == "0.5012" and shown["AUC 95 % CI"] == "[0.4901, 0.5123]"
    assert shown["bound 1 - k/64 (a bound)"] == "0.9219" and shown["best realised saving"] == "0.0000"
    assert "refuses it" in _text(at)


def test_devices_page_with_a_live_emulated_device(tmp_path: Path, monkeypatch) -> None:
    at = _page(tmp_path, "devices", monkeypatch, HASHRC_DEVICES="emu://lv06?seed=3")
    assert not at.exception
    assert "emu://lv06?seed=3" in _text(at)
    assert at.number_input and at.button  # the knob form


def test_results_table_and_windowed_predictions() -> None:
    from tests.dashboard.conftest import reservoir_report

    report = reservoir_report()
    table = results_table(report)
    assert (table["CI low"] <= table["value"]).all() and (table["value"] <= table["CI high"]).all()
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


def test_claims_page_shows_one_row_per_claim(tmp_path: Path, monkeypatch) -> None:
    rows = [{"claim": "tpf", "device": "SHA-256d", "published": "92.19 %", "measured": "AUC 0.50",
             "interval": "[0.49, 0.51]", "control": "chance", "verdict": "not supported",
             "report": "tpf/report.md"},
            {"claim": "narma10", "device": "emu://lv06", "published": "0.8661", "measured": "0.95",
             "interval": "[0.93, 0.97]", "control": "input-only", "verdict": "not supported", "report": ""}]
    (tmp_path / "claims.json").write_text(json.dumps({"quick": True, "seed": 0, "devices": ["emu://lv06"],
                                                      "rows": rows}))
    at = _page(tmp_path, "claims", monkeypatch)
    assert not at.exception
    shown = at.dataframe[0].value
    assert list(shown["claim"]) == ["tpf", "narma10"] and list(shown["measured"]) == ["AUC 0.50", "0.95"]


def test_each_run_kind_gets_only_the_options_its_command_takes(tmp_path: Path) -> None:
    from asic_bridge.cli import build_parser
    from dashboard.runs import KINDS, build_command

    parser = build_parser()
    for kind in KINDS:
        command = build_command(kind, "lv06", tmp_path / kind, steps=800, encoding="frequency", seeds=3)
        parser.parse_args(command[3:])  # exits (fails the test) on an option the command lacks
    with pytest.raises(ValueError, match="emulated model"):
        build_command("mc", "axeos://127.0.0.1", tmp_path / "x")


def test_a_run_started_from_the_page_writes_its_log_and_can_be_cancelled(tmp_path: Path) -> None:
    import time

    from dashboard.runs import RunManager

    manager = RunManager(tmp_path)
    run = manager.start("narma", "lv06", "r1", steps=20000, seeds=3)
    try:
        deadline = time.monotonic() + 60
        while "NARMA" not in run.tail() and time.monotonic() < deadline and run.running:
            time.sleep(0.2)
        run.cancel()
        run.process.wait(timeout=60)
    finally:
        manager.close()
    assert run.cancelled and run.process.returncode == 130, run.tail()
    assert "kept" in run.tail()
    with pytest.raises(ValueError, match="exists"):
        manager.start("narma", "lv06", "r1")
