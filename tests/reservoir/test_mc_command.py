"""``hashrc mc`` end to end on the emulator and from its own captures; user errors."""

import json

import pytest

from asic_bridge.cli import main

pytestmark = pytest.mark.slow  # evaluations of 10-run synthetic and emulated sets: ~20-60 s here


def test_mc_on_emulated_lv06_then_from_its_captures(tmp_path, capsys) -> None:
    out = tmp_path / "mc"
    assert main(["mc", "--steps", "400", "--seeds", "2", "--serials", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("memory capacity of emulated lv06")  # the header comes first
    assert "input_leaky" in text and "memory beyond u(t)" in text
    report = json.loads((out / "report.json").read_text())
    assert report["tasks"] == ["mc"] and len(report["runs"]) == 2
    assert len(list((out / "captures").glob("*-off.sqlite"))) == 2  # disconnected twins
    again = tmp_path / "again"
    assert main(["mc", str(out / "captures"), "--steps", "400", "--out", str(again)]) == 0
    rerun = json.loads((again / "report.json").read_text())
    first = {r["name"]: r["mc"] for r in report["results"]["mc"]["rows"]}
    second = {r["name"]: r["mc"] for r in rerun["results"]["mc"]["rows"]}
    # the report follows from the captures alone (u is stored to 12 decimals)
    assert second == pytest.approx(first, rel=1e-8)


def test_mc_user_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["mc", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hashrc mc: error:") and len(err.strip().splitlines()) == 1
    assert main(["mc", "--steps", "100", "--out", str(tmp_path / "o")]) == 2
    assert "washout" in capsys.readouterr().err
