import json
from pathlib import Path

import numpy as np
import pytest

from asic_bridge.capture import CaptureReader
from reservoir.experiment import (
    ENCODINGS,
    MIN_SEEDS,
    ExperimentConfig,
    run_experiment,
    runs_for_a_verdict,
    serials,
)
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
    assert _strip_wall(on_disk) == _strip_wall(json.loads(json.dumps(first)))  # tuples are lists on disk
    for key in ("task", "tasks", "device", "device_url", "clock", "control_path", "encoding", "seed", "steps",
                "nrmse_normalisation", "protocol", "results", "calibration", "captures", "pilot",
                "sim_seconds", "wall_seconds"):
        assert key in on_disk
    assert on_disk["nrmse_normalisation"] == "std"
    assert on_disk["nrmse_definition"] == "RMSE / std(test target)"
    assert list(on_disk["results"]) == ["narma10", "narma20", "mc", "xor"]  # all from the same runs
    assert on_disk["protocol"]["name"] == "recommended" and on_disk["protocol"]["steps"] == 600
    assert on_disk["protocol"]["washout"] == 100
    rows = {r["name"]: r for r in on_disk["results"]["narma10"]["rows"]}
    for name in ("device", "mean", "input_linear_10", "input_quadratic_30", "input_leaky", "device_shifted",
                 "device_other_run", "device_disconnected", "esn_equal", "esn_equal_noise_matched"):
        assert name in rows, name
        low, high = rows[name]["nrmse_ci"]
        assert low <= rows[name]["nrmse"] <= high and len(rows[name]["per_run"]) == 3
    assert rows["device_disconnected"]["p_holm"] is not None
    assert (tmp_path / "a" / "capture.sqlite").exists()
    assert (tmp_path / "a" / "report.md").exists() and (tmp_path / "a" / "nrmse_by_model.png").exists()
    replicates = sorted(p.name for p in (tmp_path / "a" / "replicates").glob("*.sqlite"))
    assert replicates == ["capture-seed-5-disconnected.sqlite", "capture-seed-6-disconnected.sqlite",
                          "capture-seed-6.sqlite", "capture-seed-7-disconnected.sqlite",
                          "capture-seed-7.sqlite"]
    assert on_disk["disconnected_captures"] == [f"replicates/capture-seed-{s}-disconnected.sqlite"
                                                for s in (5, 6, 7)]
    other = run_experiment(ExperimentConfig(device="lv06", encoding="difficulty", seed=6, **SMALL),
                           tmp_path / "c")
    device = [r["results"]["narma10"]["rows"][0]["per_run"] for r in (first, other)]
    assert device[0] != device[1]


def test_disconnected_runs_hold_the_knob_at_the_mean_encoded_value(tmp_path: Path) -> None:
    run_experiment(ExperimentConfig(device="lv06", seed=1, **SMALL), tmp_path)
    with CaptureReader(tmp_path / "capture.sqlite") as reader:
        on_meta = reader.metadata()
        driven = np.array([c.requested for c in reader.events("control") if c.knob == "frequency"
                           and c.t_ns >= on_meta["first_step_t_ns"]])
    with CaptureReader(tmp_path / "replicates" / "capture-seed-1-disconnected.sqlite") as reader:
        off_meta = reader.metadata()
        held = np.array([c.requested for c in reader.events("control") if c.knob == "frequency"
                         and c.t_ns >= off_meta["first_step_t_ns"]])
    assert on_meta["disconnected"] is False and off_meta["disconnected"] is True
    assert off_meta["input_u"] == on_meta["input_u"] and len(held) == len(driven) == 600
    assert np.ptp(driven) > 50 and np.ptp(held) == 0  # the same protocol without the input:
    assert held[0] == pytest.approx(driven.mean(), rel=1e-9)  # held at the mean requested value
    report = json.loads((tmp_path / "report.json").read_text())
    assert {r["disconnected_run"] for r in report["runs"]} == {
        f"replicates/capture-seed-{s}-disconnected.sqlite" for s in (1, 2, 3)}


def test_serials_are_distinct_emulated_devices_and_refused_on_hardware(tmp_path: Path) -> None:
    config = ExperimentConfig(device="lv06", steps=200, n_seeds=2, n_serials=2, pilot=True)
    report = run_experiment(config, tmp_path)
    assert report["serials"] == ["LV06-EMU-0001", "LV06-EMU-0002"] and report["pilot"]
    assert {(r["serial"], r["seed"]) for r in report["runs"]} == {
        (s, k) for s in report["serials"] for k in (0, 1)}
    names = sorted(p.name for p in (tmp_path / "replicates").glob("*.sqlite"))
    assert "capture-LV06-EMU-0002-seed-1.sqlite" in names and len(names) == 3
    assert not report["disconnected_captures"]  # a pilot drives no disconnected twin
    assert not any(r["verdict"]["computes"] for r in report["results"].values())  # a pilot has no verdict
    with pytest.raises(ValueError, match="only on the emulator"):
        serials(ExperimentConfig(device="axeos://127.0.0.1:80", n_serials=2))


def test_a_verdict_needs_enough_runs_to_be_reachable() -> None:
    from reservoir.commands import narma

    assert runs_for_a_verdict(15, 0.05) == 9 == narma.DEFAULT_SEEDS  # 15 / 2^9 < 0.05 <= 15 / 2^8
    assert runs_for_a_verdict(1, 0.05) == 5
    assert narma.MIN_SEEDS == MIN_SEEDS and tuple(narma.ENCODINGS) == ENCODINGS


def test_features_come_from_the_capture_and_ignore_ground_truth(tmp_path: Path) -> None:
    config = ExperimentConfig(device="lv06", encoding="frequency", seed=1, n_seeds=3, **SMALL)
    run_experiment(config, tmp_path)
    capture = tmp_path / "capture.sqlite"
    before = features_from_capture(capture)
    assert before.values.shape[0] == 600
    assert "frequency" not in before.names  # the set-point echo is not a device response
    assert "chip_temp[0]" in before.names and "share_count" in before.names  # chip 0
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


# --- issue 7/8: device URLs, one capture schema, calibration, protocol limits ----------------

import subprocess  # noqa: E402
import sys  # noqa: E402

from asic_bridge.capture import CaptureWriter  # noqa: E402
from asic_bridge.capture.metadata import CaptureMetadata, new_capture, validate_metadata  # noqa: E402
from asic_bridge.errors import CaptureError  # noqa: E402
from asic_bridge.events import ControlEvent, TelemetryEvent  # noqa: E402
from reservoir.experiment import (  # noqa: E402
    RunLog,
    analyse_captures,
    device_url,
    min_steps,
)
from reservoir.features import features_from_capture as _features  # noqa: E402

STUB = '''
import sys, json
import numpy as np
from asic_bridge.device import Clock, Device, DeviceInfo
from asic_bridge.events import ControlEvent, ShareEvent, ShareOutcome, TelemetryEvent
from asic_bridge.models import spec_for

class SimClock(Clock):
    simulated = True
    def __init__(self, dev): self.dev = dev
    def now_ns(self): return self.dev.t
    def sleep(self, s): self.dev.run(s)

class Stub(Device):
    """A device whose share rate follows its clock knob with a first-order lag."""
    def __init__(self, url, settle=0.0):
        self.spec = spec_for("lv06"); self.t = 10**9; self._q = []; self.settle = settle
        self.f = 485.0; self.d = 1.0; self.temp = 50.0; self.rng = np.random.default_rng(1)
        self._clock = SimClock(self)
        self._info = DeviceInfo("stub-1", "lv06", "STUB-1", "stub-fw")
    @property
    def info(self): return self._info
    @property
    def clock(self): return self._clock
    def settle_time_s(self, knob): return self.settle if knob == "frequency" else 0.0
    def control_path(self, knob): return "chip UART"
    def _apply_knob(self, knob, value):
        if knob == "frequency": self.f = value
        if knob == "difficulty": self.d = value
        e = ControlEvent(self.t, "stub-1", knob, value, "MHz" if knob == "frequency" else "1", value)
        self._q.append(e); return e
    def run(self, s):
        end = self.t + round(s * 1e9)
        self.temp += (0.1 * self.f - self.temp) * min(1.0, s / 20)
        rate = self.f * 2e8 / self.d / 2**32
        n = self.rng.poisson(rate * s)
        for t in np.sort(self.rng.integers(self.t, end, n)):
            self._q.append(ShareEvent(int(t), "stub-1", "j", 1, self.d, self.d, ShareOutcome.ACCEPTED))
        self._q.append(TelemetryEvent(end - 1, "stub-1", "chip_temp", self.temp, "degC", 0))
        self._q.append(TelemetryEvent(end - 1, "stub-1", "uptime", end / 1e9, "s"))
        self.t = end
    def events(self):
        q, self._q = self._q, []
        return iter(q)
    def read_telemetry(self): return []
'''


def _stub_namespace() -> dict:
    namespace: dict = {}
    exec(STUB, namespace)  # the same stub the subprocess test runs
    return namespace


def test_the_experiment_opens_urls_and_never_imports_the_emulator(tmp_path: Path) -> None:
    code = STUB + f'''
from reservoir.experiment import (
    ENCODINGS,
    MIN_SEEDS,
    ExperimentConfig,
    run_experiment,
    runs_for_a_verdict,
    serials,
)
report = run_experiment(ExperimentConfig(device="stub://x", steps=500, seed=3), {str(tmp_path)!r},
                        opener=Stub)
assert "emulator" not in sys.modules, sorted(m for m in sys.modules if m.startswith("emulator"))
print(json.dumps({{"paths": report["control_path"], "names": report["feature_names"],
                  "excluded": report["features_excluded"]}}))
'''
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["paths"] == {"frequency": "chip UART"}
    assert "chip_temp[0]" in out["names"]  # per-index quantities are columns quantity[index]
    # uptime is a counter: its per-step increase is constant, the step index never enters
    assert not any(n.startswith("uptime") and "per_step" not in n for n in out["names"])


def test_model_names_are_emu_urls_with_serial_and_seed_apart() -> None:
    config = ExperimentConfig(device="LV06", serial="LV06-X", seed=4)
    assert device_url(config, 4) == "emu://lv06?serial=LV06-X&seed=4"
    assert device_url(config, 5) == "emu://lv06?serial=LV06-X&seed=5"
    assert device_url(ExperimentConfig(device="emu://s9?seed=9"), 1) == "emu://s9?seed=9"
    assert device_url(ExperimentConfig(device="axeos://127.0.0.1:80"), 1) == "axeos://127.0.0.1:80"
    with pytest.raises(ValueError, match="unknown device 'antminer'"):
        device_url(ExperimentConfig(device="antminer"), 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(steps=250), r"--steps 250 leaves 67 test steps .* at least 100: use --steps 373"),
    (dict(steps=10), r"--steps 10 is too few: at least 37"),
    (dict(hold_s=0.0), r"--hold-s 0: the hold time must be a positive"),
    (dict(n_seeds=2), r"--seeds 2: an interval needs at least 3 seeds"),
    (dict(encoding="phase"), r"unknown encoding 'phase'"),
])
def test_protocol_limits_are_stated(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExperimentConfig(**kwargs).validate()
    assert min_steps() == 373
    ExperimentConfig(steps=250, n_seeds=1, pilot=True).validate()  # a path check is allowed


def test_frequency_hold_shorter_than_the_restart_is_refused(tmp_path: Path) -> None:
    ns = _stub_namespace()
    with pytest.raises(ValueError, match=r"--hold-s 1 is shorter than .* \(7.5 s"):
        run_experiment(ExperimentConfig(device="stub://x", steps=500), tmp_path,
                       opener=lambda url: ns["Stub"](url, settle=7.5))
    assert not (tmp_path / "capture.sqlite").exists()  # refused before the capture exists


def test_calibration_hits_the_share_target_and_is_recorded(tmp_path: Path) -> None:
    ns = _stub_namespace()
    config = ExperimentConfig(device="stub://x", encoding="difficulty", steps=500, shares_per_step=20.0)
    report = run_experiment(config, tmp_path, opener=ns["Stub"])
    cal = report["calibration"][0]
    assert cal["shares"] >= 30 and cal["shares_per_step"] == 20.0
    features = _features(tmp_path / "capture.sqlite")
    counts = features.values[:, list(features.names).index("share_count")]
    assert counts.mean() == pytest.approx(20.0, rel=0.15)  # the target, not the published rate
    with CaptureReader(tmp_path / "capture.sqlite") as reader:
        meta = reader.metadata()
        controls = [c for c in reader.events("control") if c.knob == "difficulty"]
    assert meta["calibration"]["rate_at_d1"] == pytest.approx(cal["rate_at_d1"])
    # calibration changes come before the first step and are not steps
    assert len([c for c in controls if c.t_ns >= meta["first_step_t_ns"]]) == 500
    # the published encoding stays as an explicit choice: D = 25 / (u + 0.05) exactly
    pub = run_experiment(ExperimentConfig(device="stub://x", encoding="difficulty-published", steps=500),
                         tmp_path / "pub", opener=ns["Stub"])
    assert pub["calibration"] == [None, None, None]
    with CaptureReader(tmp_path / "pub" / "capture.sqlite") as reader:
        u = np.array(reader.metadata()["input_u"])
        d = np.array([c.value for c in reader.events("control") if c.knob == "difficulty"])
    assert np.allclose(d, 25.0 / (u + 0.05))


def test_reanalysis_of_the_captures_gives_the_same_scores(tmp_path: Path) -> None:
    ns = _stub_namespace()
    first = run_experiment(ExperimentConfig(device="stub://x", steps=500), tmp_path / "run",
                           opener=ns["Stub"])
    again = analyse_captures(
        [tmp_path / "run" / "capture.sqlite", *sorted((tmp_path / "run" / "replicates").glob("*.sqlite"))],
        tmp_path / "again")
    for task in first["results"]:
        assert ([r["per_run"] for r in again["results"][task]["rows"]]
                == [r["per_run"] for r in first["results"][task]["rows"]])
    assert again["captures"][0] == "../run/capture.sqlite"
    assert len(again["disconnected_captures"]) == 3  # found beside the capture


def test_interrupted_run_keeps_its_events(tmp_path: Path) -> None:
    ns = _stub_namespace()

    class StopAt:
        n = 0

        def update(self, k: int = 1) -> None:
            self.n += k
            if self.n == 120:
                raise KeyboardInterrupt

    log = RunLog()
    with pytest.raises(KeyboardInterrupt):
        run_experiment(ExperimentConfig(device="stub://x", steps=500), tmp_path, opener=ns["Stub"],
                       progress=StopAt(), log=log)
    path, events = log.captures[0]
    assert log.step == 120 and events > 500
    with CaptureReader(path) as reader:
        assert reader.count("shares") + reader.count("telemetry") + reader.count("control") == events


def _synthetic_capture(path: Path, meta: CaptureMetadata, n_steps: int = 40) -> None:
    with new_capture(path, meta) as w:
        for k in range(n_steps):
            t = (k + 1) * 10**9
            w.write(ControlEvent(t, "d", "frequency", 400.0 + (k % 7) * 20, "MHz"))
            errors = sum(j % 3 for j in range(k + 1))  # the firmware's running total
            w.write(TelemetryEvent(t + 5 * 10**8, "d", "hw_errors", float(errors), "1"))
            w.write(TelemetryEvent(t + 5 * 10**8, "d", "uptime", float(t / 1e9), "s"))
            for i in (0, 1):
                w.write(TelemetryEvent(t + 5 * 10**8, "d", "chip_temp", 50.0 + i + (k % 7), "degC", i))


def test_features_of_a_schedule_capture_counters_and_index_columns(tmp_path: Path) -> None:
    schedule = [[k, "frequency", 400.0 + (k % 7) * 20, "MHz"] for k in range(40)]
    meta = CaptureMetadata(device_model="lv06", task="capture", clock="wall", knobs=("frequency",),
                           control_path={"frequency": "management API"}, schedule=schedule)
    _synthetic_capture(tmp_path / "c.sqlite", meta)
    f = _features(tmp_path / "c.sqlite")
    assert len(f.values) == 40
    assert "chip_temp[0]" in f.names and "chip_temp[1]" in f.names and "chip_temp" not in f.names
    col = f.values[:, f.names.index("hw_errors_per_step")]
    assert list(col[1:5]) == [1.0, 2.0, 0.0, 1.0]  # the increase in the step, not the total
    # uptime's increase per step is constant (not the step index); a counter left cumulative would be
    assert "uptime_per_step" in f.names and "uptime" not in f.names
    assert not any(name == "hw_errors" for name in f.names)


def test_step_index_tracking_columns_are_dropped(tmp_path: Path) -> None:
    meta = CaptureMetadata(device_model="lv06", task="capture", clock="wall", knobs=("frequency",),
                           control_path={"frequency": "simulation"}, hold_s=1.0)
    with new_capture(tmp_path / "c.sqlite", meta) as w:
        for k in range(40):
            t = (k + 1) * 10**9
            w.write(ControlEvent(t, "d", "frequency", 400.0 + (k % 7) * 20, "MHz"))
            w.write(TelemetryEvent(t + 5 * 10**8, "d", "board_age", float(k), "s"))
            w.write(TelemetryEvent(t + 5 * 10**8, "d", "chip_temp", 50.0 + (k % 5), "degC"))
    f = _features(tmp_path / "c.sqlite")
    assert "board_age" not in f.names and ("board_age", "tracks the step index") in f.excluded
    assert "chip_temp" in f.names


def test_capture_without_a_driven_knob_says_what_is_missing(tmp_path: Path) -> None:
    meta = CaptureMetadata(device_model="lv06", task="capture", clock="wall")
    _synthetic_capture(tmp_path / "c.sqlite", meta, n_steps=3)
    with pytest.raises(CaptureError, match="no driven knob") as info:
        _features(tmp_path / "c.sqlite")
    assert "\n" not in str(info.value)


def test_metadata_is_validated_before_the_file_exists(tmp_path: Path) -> None:
    bad = CaptureMetadata(device_model="lv06", task="capture", clock="wall", knobs=("frequency",),
                          control_path={"frequency": "carrier pigeon"}, hold_s=1.0)
    with pytest.raises(CaptureError, match="carrier pigeon"):
        new_capture(tmp_path / "c.sqlite", bad)
    assert not (tmp_path / "c.sqlite").exists()
    with pytest.raises(CaptureError, match="neither hold_s nor a schedule"):
        CaptureMetadata(device_model="lv06", task="x", clock="wall", knobs=("fan",),
                        control_path={"fan": "pool"}).as_dict()
    good = CaptureMetadata(device_model="lv06", task="x", clock="wall").as_dict()
    validate_metadata(good)
    with pytest.raises(CaptureError, match="missing seed"):
        validate_metadata({k: v for k, v in good.items() if k != "seed"})
    with CaptureWriter(tmp_path / "raw.sqlite", metadata=good):
        pass


def test_the_stated_minimum_of_steps_is_itself_accepted() -> None:
    """The washout grows with the steps, so the minimum named must fit its own washout."""
    with pytest.raises(ValueError, match="at least 37") as refused:
        ExperimentConfig(steps=30, n_seeds=1, pilot=True).validate()
    floor = int(str(refused.value).split("at least ")[1].split()[0])
    ExperimentConfig(steps=floor, n_seeds=1, pilot=True).validate()
