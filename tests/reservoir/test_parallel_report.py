"""Scoring gives the same report on one process, joblib workers and a Dask cluster on
loopback; the report files are written with their plots."""

import json

import pytest

from reservoir.esn import EsnGrid
from reservoir.evaluation import evaluate
from reservoir.protocol import Protocol
from reservoir.report import verdict_lines, write_report
from reservoir.synthetic import synthetic_runs

PROTO = Protocol(name="test", steps=500, washout=50, reference_esn_units=(),
                 esn_grid=EsnGrid((0.6,), (0.02, 5.0), (1.0,), (1.0,)))


@pytest.fixture(scope="module")
def runs() -> list:
    # joblib's worker pool is shut down after each evaluate; its two resource trackers live
    # as long as this process by design, so start them before the leak check looks
    import multiprocessing.resource_tracker

    from joblib.externals.loky.backend import resource_tracker

    resource_tracker.ensure_running()
    multiprocessing.resource_tracker.ensure_running()
    return synthetic_runs("esn", seeds=[0, 1, 2], serials=["a", "b"], steps=500, n_features=12)


@pytest.fixture(scope="module")
def serial_report(runs) -> dict:
    return evaluate(runs, protocol=PROTO, tasks=("narma10", "mc", "xor"))


def test_joblib_workers_give_the_same_report(runs, serial_report) -> None:
    parallel = evaluate(runs, protocol=PROTO, tasks=("narma10", "mc", "xor"), n_jobs=2)
    assert json.dumps(parallel) == json.dumps(serial_report)


def test_dask_cluster_on_loopback_gives_the_same_report(runs, serial_report) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        report = evaluate(runs, protocol=PROTO, tasks=("narma10", "mc", "xor"), dask_address=address)
    assert json.dumps(report) == json.dumps(serial_report)


def test_report_files(tmp_path, serial_report) -> None:
    out = write_report(serial_report, tmp_path / "rep")
    for name in ("report.json", "report.md", "prediction.png", "nrmse_by_model.png", "mc_curve.png",
                 "per_serial.png"):
        assert (out / name).stat().st_size > 0, name
    text = (out / "report.md").read_text()
    assert "RMSE / std(test target)" in text and "## Verdicts" in text
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(serial_report))
    lines = verdict_lines(serial_report)
    assert len(lines) == 3 and all("Margin to best input-only" in line for line in lines)
