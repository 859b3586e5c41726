"""Fingerprints: serials are distinguishable when their variation exceeds the noise and
not when it does not (synthetic responses and emulated silicon); the CLI flow works."""

from __future__ import annotations

import numpy as np

from reservoir import puf


def _synthetic(variation: float, noise: float, seed: int, serials: int = 8, runs: int = 4, dim: int = 6):
    rng = np.random.default_rng(seed)
    out = {}
    for s in range(serials):
        centre = 10.0 + rng.normal(0.0, variation, dim)
        out[f"S{s}"] = [centre + rng.normal(0.0, noise, dim) for _ in range(runs)]
    return out


def test_distinguishable_when_variation_exceeds_noise():
    result = puf.evaluate_responses(_synthetic(1.0, 0.1, seed=1), np.random.default_rng(0))
    assert result["eer_ci"][1] < 0.1, result["eer"]


def test_not_distinguishable_without_variation():
    result = puf.evaluate_responses(_synthetic(0.0, 0.1, seed=2), np.random.default_rng(0))
    assert result["eer"] > 0.25 and result["eer_ci"][1] > 0.4, result["eer"]
    # leave-one-run-out: a genuine run is never part of its own enrolment, so without
    # variation genuine and impostor scores have the same scale
    ratio = np.mean(result["genuine_scores"]) / np.mean(result["impostor_scores"])
    assert 0.85 < ratio < 1.15, ratio


def test_emulated_serials_distinct_silicon_vs_same_silicon():
    from asic_bridge.models import SPECS

    challenge = puf.default_challenge(SPECS["s9"], hold_s=8.0, settle_s=4.0)

    def runs(serial: str, seeds: range) -> list[np.ndarray]:
        return [puf.respond(f"emu://s9?serial={serial}&seed={s}", challenge)[0] for s in seeds]

    a = runs("S9-A", range(0, 3))
    distinct = puf.evaluate_responses(
        {"S9-A": a, "S9-B": runs("S9-B", range(3, 6))}, np.random.default_rng(0)
    )
    same = puf.evaluate_responses(
        {"S9-A": a, "S9-A-again": runs("S9-A", range(6, 9))}, np.random.default_rng(0)
    )
    assert distinct["eer"] < same["eer"]
    assert max(distinct["impostor_scores"]) > 0 and min(distinct["impostor_scores"]) > max(
        same["impostor_scores"]
    )


def test_enrol_verify_cli(tmp_path, capsys):
    from asic_bridge.cli import main

    profile = tmp_path / "p.json"
    args = ["puf", "enrol", "--device", "emu://lv06?serial=E1", "--runs", "2", "--hold-s", "5"]
    assert main([*args, "--profile", str(profile)]) == 0
    loaded = puf.Profile.from_json(profile.read_text())
    assert loaded.serial == "E1" and loaded.runs == 2 and len(loaded.mean) == len(loaded.names)
    code = main(
        ["puf", "verify", "--device", "emu://lv06?serial=E1", "--profile", str(profile), "--threshold", "1e9"]
    )
    assert code == 0 and "ACCEPT" in capsys.readouterr().out
    code = main(
        ["puf", "verify", "--device", "emu://lv06?serial=E1", "--profile", str(profile), "--threshold", "0"]
    )
    assert code == 1 and "REJECT" in capsys.readouterr().out
    assert main(["puf", "verify", "--device", "lv06", "--profile", str(tmp_path / "none.json")]) == 2


def test_response_recomputed_from_its_capture(tmp_path, capsys):
    from asic_bridge.cli import main
    from asic_bridge.models import SPECS

    challenge = puf.default_challenge(SPECS["lbbox"], hold_s=4.0, settle_s=2.0)
    live, names, identity = puf.respond("emu://lbbox?serial=C1&seed=4", challenge, tmp_path / "c.sqlite")
    again, names2, identity2, challenge2 = puf.response_from_capture(tmp_path / "c.sqlite")
    assert np.allclose(live, again) and names == names2 and challenge2 == challenge
    assert identity2["serial"] == identity["serial"] == "C1"
    args = ["puf", "enrol", "--device", "emu://lbbox?serial=C1", "--runs", "2", "--hold-s", "4"]
    profile = tmp_path / "p.json"
    assert main([*args, "--captures-dir", str(tmp_path / "runs"), "--profile", str(profile)]) == 0
    caps = sorted(str(p) for p in (tmp_path / "runs").glob("*.sqlite"))
    assert len(caps) == 2
    assert (
        main(
            [
                "puf",
                "enrol",
                "--capture",
                caps[0],
                "--capture",
                caps[1],
                "--profile",
                str(tmp_path / "q.json"),
            ]
        )
        == 0
    )
    assert (
        puf.Profile.from_json((tmp_path / "q.json").read_text()).mean
        == puf.Profile.from_json(profile.read_text()).mean
    )
    code = main(["puf", "verify", "--capture", caps[0], "--profile", str(profile), "--threshold", "1e9"])
    assert code == 0 and "ACCEPT" in capsys.readouterr().out
