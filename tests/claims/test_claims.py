"""``hashrc claims``: one row per claim and device, failures reported as "not run"."""

from __future__ import annotations

import json

import pytest

from reservoir import claims


class Tiny(claims.ClaimsConfig):
    """Smallest sizes that still exercise every measurement."""

    @property
    def tpf(self) -> dict:
        return {"n_jobs": 6, "nonces_per_job": 512}

    @property
    def tpf_models(self) -> tuple[str, ...]:
        return ("logistic",)

    @property
    def capture_s(self) -> float:
        return 30.0

    @property
    def sweep_hold_s(self) -> float:
        return 5.0

    @property
    def puf(self) -> dict:
        return {"serials": 2, "runs": 3, "hold_s": 3.0}

    @property
    def policy(self) -> dict:
        return {"seeds": 1, "duration_s": 120.0}


def test_claims_table_on_an_emulated_device(tmp_path, monkeypatch):
    def narma_unavailable(url, out, config):
        raise RuntimeError("narma entry point missing")

    monkeypatch.setattr(claims, "_narma", narma_unavailable)
    result = claims.run_claims(["lv06"], tmp_path, Tiny(quick=True), progress=lambda m: None)
    rows = {r["claim"]: r for r in result["rows"]}
    assert set(rows) == {"tpf", "theorems", "narma10", "vbm", "edge_of_chaos", "puf", "universality", "hns"}
    assert rows["narma10"]["measured"] == "not run"
    assert "narma entry point missing" in rows["narma10"]["verdict"]
    assert rows["universality"]["verdict"].startswith("incomplete")  # honest: one measurement failed
    for name in ("tpf", "vbm", "edge_of_chaos", "puf"):
        assert rows[name]["measured"] != "not run", rows[name]
        assert (tmp_path / rows[name]["report"]).is_file()
    assert "bound" in rows["tpf"]["control"] and "GH/s" in rows["vbm"]["interval"]
    assert "latency-hiding pool policy vs normal" in rows["vbm"]["control"]  # the policy was run
    table = (tmp_path / "claims.md").read_text()
    assert table.count("\n| ") >= 9 and "92.19" in table
    assert json.loads((tmp_path / "claims.json").read_text())["devices"] == ["emu://lv06"]


def test_claims_command_requires_out(capsys):
    from asic_bridge.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["claims", "--quick"])
    assert exc.value.code == 2
