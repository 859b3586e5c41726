"""Synthetic devices with known answers are judged right by evaluate()."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from reservoir.esn import REFERENCE_PARAMS, EsnGrid, esn_states
from reservoir.evaluation import REQUIRED, RunData, evaluate
from reservoir.protocol import PRESETS, Protocol
from reservoir.readout import ChronologicalSplit, fit_ridge_readout
from reservoir.synthetic import synthetic_run, synthetic_runs
from reservoir.tasks import narma10, narma10_response, task_for, uniform_input

pytestmark = pytest.mark.slow  # evaluations of 10-run synthetic and emulated sets: ~20-60 s here

SMALL = Protocol(
    name="test", steps=2000, washout=100, reference_esn_units=(),
    esn_grid=EsnGrid((0.6, 0.9), (0.02, 5.0), (1.0,), (1.0,)),
)
SEEDS = [0, 1, 2, 3, 4]
SERIALS = ["s-a", "s-b"]
TASKS = ("narma10", "mc", "xor")


def _report(kind: str, n_features: int = 8) -> dict:
    runs = synthetic_runs(kind, seeds=SEEDS, serials=SERIALS, steps=SMALL.steps, n_features=n_features)
    return evaluate(runs, protocol=SMALL, tasks=TASKS)


@pytest.fixture(scope="module")
def memoryless() -> dict:
    return _report("memoryless")


@pytest.fixture(scope="module")
def esn_device() -> dict:
    return _report("esn", n_features=100)


@pytest.fixture(scope="module")
def leaky() -> dict:
    return _report("leaky", n_features=4)


def _rows(report: dict, task: str) -> dict[str, dict]:
    return {r["name"]: r for r in report["results"][task]["rows"]}


def test_memoryless_device_does_not_compute(memoryless) -> None:
    for task in TASKS:
        assert not memoryless["results"][task]["verdict"]["computes"], task
    narma = memoryless["results"]["narma10"]
    assert "input_linear_30" in narma["verdict"]["failed"]
    rows = _rows(memoryless, "narma10")
    assert rows["device"]["nrmse"] < rows["mean"]["nrmse"]  # it does carry u(t)
    assert rows["mean"]["device_better"] and not rows["input_linear_30"]["device_better"]
    assert memoryless["results"]["mc"]["rows"][0]["mc"] < 1.5  # no memory beyond u(t)


def test_esn_device_computes_where_input_readouts_cannot(esn_device) -> None:
    xor = esn_device["results"]["xor"]
    assert xor["verdict"]["computes"], xor["verdict"]
    assert xor["margins"]["best_input_only"]["mean"] < 0
    assert esn_device["results"]["mc"]["verdict"]["computes"]
    # on NARMA-10 the quadratic readout of 30 inputs beats a 100-unit ESN: not computing,
    # although it beats the mean, the shifted, other-run and disconnected controls
    narma = esn_device["results"]["narma10"]
    assert not narma["verdict"]["computes"]
    rows = _rows(esn_device, "narma10")
    for name in ("mean", "device_shifted", "device_other_run", "device_disconnected"):
        assert rows[name]["device_better"], name
    assert not rows["input_quadratic_30"]["device_better"]


def test_leaky_integrator_device_only_matches_the_leaky_control(leaky) -> None:
    for task in TASKS:
        assert not leaky["results"][task]["verdict"]["computes"], task
    rows = _rows(leaky, "narma10")
    assert abs(rows["device"]["nrmse"] - rows["input_leaky"]["nrmse"]) < 0.05
    assert not rows["input_leaky"]["device_better"]


def test_shifted_and_device_controls_are_near_one(esn_device) -> None:
    rows = _rows(esn_device, "narma10")
    assert rows["device"]["nrmse"] < 0.9
    for name in ("device_shifted", "device_other_run", "device_disconnected"):
        assert 0.95 < rows[name]["nrmse"] < 1.1, name


def test_report_rows_carry_every_field(memoryless) -> None:
    for task, rep in memoryless["results"].items():
        key = rep["score"]
        for row in rep["rows"]:
            assert {"name", key, f"{key}_ci", "normalisation", "per_run"} <= set(row)
            if row["name"] != "device":
                assert {"paired_difference", "p_value", "p_holm"} <= set(row), (task, row["name"])
        names = {r["name"] for r in rep["rows"]}
        assert set(REQUIRED[task_for(task).score]) <= names
        assert "esn_equal" in names and "esn_equal_noise_matched" in names
    assert len(memoryless["runs"]) == 10


def test_one_failed_control_is_enough_to_refuse(esn_device) -> None:
    # the verdict is an AND over the required controls: the ESN device beats all but some
    narma = esn_device["results"]["narma10"]
    beaten = [n for n in narma["verdict"]["required_controls"] if n not in narma["verdict"]["failed"]]
    assert beaten and narma["verdict"]["failed"] and not narma["verdict"]["computes"]


def test_missing_disconnected_run_means_no_verdict() -> None:
    runs = synthetic_runs("esn", seeds=[0, 1, 2], serials=["x"], steps=600, n_features=20,
                          with_disconnected=False)
    proto = SMALL.with_(steps=600, esn_grid=EsnGrid((0.6,), (5.0,), (1.0,), (1.0,)))
    report = evaluate(runs, protocol=proto, tasks=("mc",))
    verdict = report["results"]["mc"]["verdict"]
    assert not verdict["computes"] and "device_disconnected" in verdict["missing"]
    assert any("disconnected" in w for w in report["warnings"])


def test_features_are_aligned_with_the_target() -> None:
    # an oracle feature equal to target(t) = y(t+1) must score near 0: a target rolled by
    # one step against the features would score far from it
    runs = []
    for seed in (0, 1, 2):
        u = uniform_input(400, seed=seed)
        y = narma10_response(u)
        noise = np.random.default_rng(seed).normal(size=400) * 1e-3
        runs.append(RunData(seed, "oracle", u, (y + noise)[:, None], ("y",), f"oracle-{seed}"))
    proto = SMALL.with_(steps=400, washout=50, esn_grid=EsnGrid((0.6,), (0.02,), (1.0,), (1.0,)))
    report = evaluate(runs, protocol=proto, tasks=("narma10",))
    assert _rows(report, "narma10")["device"]["nrmse"] < 0.05


def test_delay_line_memory_capacity_is_its_length() -> None:
    k = 10
    runs = synthetic_runs("delay", seeds=[0, 1, 2], serials=["d"], steps=1200, n_features=k,
                          noise=0.0, with_disconnected=False)
    proto = SMALL.with_(steps=1200, esn_grid=EsnGrid((0.6,), (0.02,), (1.0,), (1.0,)))
    report = evaluate(runs, protocol=proto, tasks=("mc",))
    device = _rows(report, "mc")["device"]
    assert k - 0.3 < device["mc"] < k + 0.5, device["mc"]
    curve = report["results"]["mc"]["curves"]["device"]
    assert min(curve[:k]) > 0.98 and max(curve[k:]) < 0.05


def test_reference_esns_land_where_reservoir_md_says() -> None:
    # reservoir.md: ESN-100 0.202 +- 0.017, ESN-400 0.132 +- 0.020 (recommended split)
    split = ChronologicalSplit.make(3200)
    for units, (low, high), seeds in ((100, (0.17, 0.25), (0, 1, 2)), (400, (0.10, 0.16), (1, 2))):
        scores = []
        for seed in seeds:
            u, y = narma10(3200, seed=seed)
            with threadpool_limits(limits=1):
                states = esn_states(u, units, REFERENCE_PARAMS[units], seed=1000 + seed)
                scores.append(fit_ridge_readout(states, y, split).test_nrmse)
        assert low < np.mean(scores) < high, (units, scores)


def test_published_preset_reports_range_normalised_nrmse() -> None:
    published = PRESETS["published"]
    assert published.encoding == "difficulty" and published.steps == 500
    assert published.feature_names == ("share_count", "interarrival_mean_s")
    assert published.split().as_dict()["test"] == 90
    runs = []
    for seed in (0, 1, 2):
        run = synthetic_run("leaky", seed=seed, serial="p", steps=500, n_features=2)
        runs.append(RunData(run.seed, run.serial, run.u, run.features, published.feature_names, run.capture))
    proto = published.with_(reference_esn_units=(), esn_grid=EsnGrid((0.6,), (0.02,), (1.0,), (1.0,)))
    report = evaluate(runs, protocol=proto, tasks=("narma10",))
    rn = report["results"]["narma10"]["range_normalised"]
    assert rn["published_figure"] == 0.8661 and "max - min" in rn["definition"]
    by = {r["name"]: r["nrmse_range"] for r in rn["rows"]}
    assert by["device"] < _rows(report, "narma10")["device"]["nrmse"] / 3


def test_bad_runs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="line up"):
        RunData(0, "a", np.zeros(10), np.zeros((9, 1)), ("f",), "c")
    with pytest.raises(ValueError, match="NaN"):
        RunData(0, "a", np.zeros(3), np.array([[1.0], [np.nan], [2.0]]), ("f",), "c")
    run = synthetic_run("memoryless", seed=0, serial="a", steps=300)
    with pytest.raises(ValueError, match="at least 2 connected runs"):
        evaluate([run], protocol=SMALL.with_(steps=300), tasks=("narma10",))
    with pytest.raises(ValueError, match="unknown task"):
        evaluate([run, run], protocol=SMALL, tasks=("narma99",))
    with pytest.raises(ValueError, match="no feature"):
        evaluate([run, run], protocol=SMALL.with_(feature_names=("share_count",)), tasks=("narma10",))


def test_mean_control_is_the_training_mean(memoryless) -> None:
    # a constant c scores sqrt(1 + ((mean_test - c) / std_test)^2) >= 1, exactly 1 only for
    # the test mean: the training mean must score above 1 on every run and task
    for task in ("narma10", "xor"):
        per_run = _rows(memoryless, task)["mean"]["per_run"]
        assert all(v > 1.0 + 1e-9 for v in per_run), (task, per_run)
