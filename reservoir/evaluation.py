"""Score device runs on every task beside every control, with paired statistics.

The seam between the experiment (which drives devices and builds :class:`RunData` from
captures) and the analysis: ``evaluate(runs, protocol=..., tasks=...)`` returns the
report.json content. Per connected run (one data seed on one device serial):

* targets of every task are computed from the run's input u (tasks share it);
* the device features and every control go through the same ridge readout (ridge chosen
  on validation, refit on train, scored once on test);
* controls: predict the mean; the input-only readouts of :data:`reservoir.controls.INPUT_ONLY`;
  the device features circularly shifted; the features of another run of the same serial
  (the next seed); the serial's input-disconnected run; a tuned ESN with as many units as
  the device has features, noiseless and noise-matched; reference ESNs of 100 and 400
  units (the machinery check: about 0.20 and 0.13 on NARMA-10).

Then per task and control, the paired per-run differences device - control, their
t-interval, the larger one-sided p of a paired t-test and a sign-flip test, Holm-corrected
across the task's controls. The device computes on a task only if it beats every required
control significantly after correction (:data:`REQUIRED`).

Runs are scored independently: joblib on the local cores by default, a Dask cluster when
given ``dask_address``; the result is the same either way (each run's scoring is a pure
function of its data and the protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reservoir.controls import INPUT_ONLY, circular_shift
from reservoir.esn import REFERENCE_PARAMS, EsnGrid, EsnParams, esn_states, measured_noise_fractions
from reservoir.protocol import Protocol
from reservoir.readout import ChronologicalSplit, fit_readout, range_nrmse
from reservoir.stats import holm, mean_interval, paired_test
from reservoir.tasks import squared_correlations, task_for

NRMSE_DEFINITION = "RMSE / std(test target)"
RANGE_DEFINITION = "RMSE / (max - min)(test target), for comparison with published figures only"
WINDOW = 200  # test steps shown in the prediction plot

DESCRIPTIONS: dict[str, str] = {
    "device": "ridge readout on the device's step features",
    "mean": "predict the training mean",
    **{name: desc for name, (desc, _) in INPUT_ONLY.items()},
    "device_shifted": "device features circularly shifted against the target (half the run)",
    "device_other_run": "features of another run (next seed) of the same device serial",
    "device_disconnected": "the same device with its input disconnected (knob held at the mean)",
    "esn_equal": "echo state network, as many units as device features, tuned, noiseless",
    "esn_equal_noise_matched": "the same ESN with per-unit noise matched to the device's "
    "measured noise (variance with input disconnected over the variance the input adds)",
}
KINDS: dict[str, str] = {
    "device": "device", "mean": "baseline",
    **dict.fromkeys(INPUT_ONLY, "input_only"),
    "device_shifted": "device_control", "device_other_run": "device_control",
    "device_disconnected": "device_control",
    "esn_equal": "esn", "esn_equal_noise_matched": "esn",
}
DEVICE_CONTROLS = ("device_shifted", "device_other_run", "device_disconnected")
REQUIRED: dict[str, tuple[str, ...]] = {
    "nrmse": ("mean", *INPUT_ONLY, *DEVICE_CONTROLS),
    # any input-history readout recalls u(t-k) perfectly: memory is judged against u(t)
    # alone, the memory a thermal low-pass gives for free, and the device's own controls
    "memory_capacity": ("input_now", "input_leaky", *DEVICE_CONTROLS),
}
REFERENCE_EXPECTED = {100: (0.202, 0.017), 400: (0.132, 0.020)}  # reservoir.md, NARMA-10


@dataclass(frozen=True)
class RunData:
    """One capture, aligned per step: the task input u(t) and the features measured while
    it was applied (row t is step t)."""

    seed: int  # data seed (task input)
    serial: str  # device serial (distinct silicon on the emulator)
    u: np.ndarray  # (n_steps,) task input
    features: np.ndarray  # (n_steps, n_features) from features_from_capture
    feature_names: tuple[str, ...]
    capture: str  # path relative to the report dir
    disconnected: bool = False  # knob held at the mean encoded value

    def __post_init__(self) -> None:
        u = np.asarray(self.u, dtype=float)
        x = np.asarray(self.features, dtype=float)
        if u.ndim != 1 or x.ndim != 2 or len(u) != len(x) or x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"run seed {self.seed} serial {self.serial}: u {u.shape}, features {x.shape} and "
                f"{len(self.feature_names)} names do not line up (need u (n,), features (n, names))"
            )
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(x))):
            raise ValueError(f"run seed {self.seed} serial {self.serial}: NaN or infinity in u or features")
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "features", x)

    def select(self, names: Sequence[str] | None) -> RunData:
        """The same run with only the named features, in that order."""
        if names is None:
            return self
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise ValueError(f"run {self.capture}: no feature {missing}; it has {list(self.feature_names)}")
        cols = [self.feature_names.index(n) for n in names]
        return RunData(self.seed, self.serial, self.u, self.features[:, cols], tuple(names),
                       self.capture, self.disconnected)


@dataclass(frozen=True)
class _Job:
    """One unit of scoring work: the models of one run (``run`` set) or the models that
    depend on the input alone, shared by every serial driven with that seed."""

    index: int
    u: np.ndarray
    protocol: Protocol
    tasks: tuple[str, ...]
    esn_params: dict[str, EsnParams]  # task -> params of the device-sized ESN
    esn_seed: int
    keep_predictions: bool
    n_units: int
    run: RunData | None = None
    other: RunData | None = None
    disconnected: RunData | None = None
    reference_params: dict[int, EsnParams] = field(default_factory=dict)


@dataclass
class _RunScores:
    index: int
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> task -> score
    range_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)  # model -> MC_k
    predictions: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # task -> model
    targets: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _targets(u: np.ndarray, tasks: tuple[str, ...]) -> tuple[np.ndarray, dict[str, slice]]:
    columns, where, start = [], {}, 0
    for name in tasks:
        t = task_for(name).targets(u)
        t = t[:, None] if t.ndim == 1 else t
        columns.append(t)
        where[name] = slice(start, start + t.shape[1])
        start += t.shape[1]
    return np.column_stack(columns), where


def _score_model(
    x: np.ndarray, y: np.ndarray, where: dict[str, slice], split: ChronologicalSplit,
    protocol: Protocol, model: str, out: _RunScores, keep: bool, only: tuple[str, ...] | None = None,
) -> None:
    readout = fit_readout(x, y, split, protocol.ridge_alphas)
    y_test = y[split.test]
    for task, cols in where.items():
        if only is not None and task not in only:
            continue
        spec = task_for(task)
        pred = readout.test_prediction[:, cols]
        if spec.score == "memory_capacity":
            curve = squared_correlations(y_test[:, cols], pred)
            out.scores.setdefault(model, {})[task] = float(curve.sum())
            out.curves[model] = curve.tolist()
        else:
            target = y_test[:, cols][:, 0]
            p = pred[:, 0]
            out.scores.setdefault(model, {})[task] = float(
                np.sqrt(np.mean((p - target) ** 2)) / np.std(target))
            if protocol.range_normalised:
                out.range_scores.setdefault(model, {})[task] = range_nrmse(target, p)
            if keep:
                out.predictions.setdefault(task, {})[model] = p[:WINDOW].round(6).tolist()
                out.targets[task] = target[:WINDOW].round(6).tolist()


def _mean_scores(y: np.ndarray, where: dict[str, slice], split: ChronologicalSplit, out: _RunScores,
                 protocol: Protocol) -> None:
    """Predict the training mean (never the test mean) for every task."""
    mean = y[split.train].mean(axis=0)
    y_test = y[split.test]
    for task, cols in where.items():
        if task_for(task).score == "memory_capacity":
            out.scores.setdefault("mean", {})[task] = 0.0  # a constant has no correlation
            continue
        target = y_test[:, cols][:, 0]
        p = np.full(len(target), mean[cols][0])
        out.scores.setdefault("mean", {})[task] = float(np.sqrt(np.mean((p - target) ** 2)) / np.std(target))
        if protocol.range_normalised:
            out.range_scores.setdefault("mean", {})[task] = range_nrmse(target, p)


def score_job(job: _Job) -> _RunScores:
    """Scores of one job's models on every task (a pure function of the job). BLAS runs
    on one thread: jobs run in parallel instead, and on a shared machine threaded BLAS
    slows a 1,000 x 500 SVD by 5-30x."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _score_job(job)


def _score_job(job: _Job) -> _RunScores:
    protocol = job.protocol
    split = protocol.split(len(job.u))
    y, where = _targets(job.u, job.tasks)
    out = _RunScores(job.index)

    def score(x: np.ndarray, model: str, only: tuple[str, ...] | None = None) -> None:
        _score_model(x, y, where, split, protocol, model, out, job.keep_predictions, only)

    by_params: dict[EsnParams, list[str]] = {}
    for task, params in job.esn_params.items():
        by_params.setdefault(params, []).append(task)
    run = job.run
    if run is None:  # the models that see only the input
        _mean_scores(y, where, split, out, protocol)
        for name, (_, make) in INPUT_ONLY.items():
            score(make(job.u), name)
        for params, tasks in by_params.items():
            score(esn_states(job.u, job.n_units, params, seed=job.esn_seed), "esn_equal", tuple(tasks))
        for units, params in job.reference_params.items():
            score(esn_states(job.u, units, params, seed=job.esn_seed), f"esn_{units}")
        return out
    n = len(job.u)
    score(run.features, "device")
    shift = max(1, round(n * protocol.shift_fraction))
    score(circular_shift(run.features, shift), "device_shifted")
    if job.other is not None:
        score(job.other.features[:n], "device_other_run")
    if job.disconnected is not None:
        off = job.disconnected.features[:n]
        score(off, "device_disconnected")
        noise = measured_noise_fractions(run.features, off, split.train)
        for params, tasks in by_params.items():
            noisy = esn_states(job.u, job.n_units, params, seed=job.esn_seed, noise_fraction=noise)
            score(noisy, "esn_equal_noise_matched", tuple(tasks))
    return out


def tune_esn(
    u: np.ndarray, tasks: tuple[str, ...], n_units: int, split: ChronologicalSplit, grid: EsnGrid,
    *, seed: int, alphas: tuple[float, ...],
) -> dict[str, dict[str, Any]]:
    """Per task, the grid point with the best validation score (NRMSE, or memory capacity
    estimated as sum of 1 - NRMSE^2 over delays) and the axes where it sits on the edge."""
    y, where = _targets(u, tasks)
    best: dict[str, tuple[float, EsnParams]] = {}
    for params in grid.points():
        states = esn_states(u, n_units, params, seed=seed)
        val = fit_readout(states, y, split, alphas).validation_nrmse
        for task, cols in where.items():
            if task_for(task).score == "memory_capacity":
                loss = -float(np.clip(1 - val[cols] ** 2, 0, 1).sum())
            else:
                loss = float(val[cols][0])
            if task not in best or loss < best[task][0]:
                best[task] = (loss, params)
    return {
        task: {"params": params, "validation": abs(loss), "edges": grid.edges(params)}
        for task, (loss, params) in best.items()
    }


def _pair_runs(runs: list[RunData]) -> list[tuple[RunData, RunData | None, RunData | None]]:
    connected = sorted((r for r in runs if not r.disconnected), key=lambda r: (r.seed, r.serial))
    off = [r for r in runs if r.disconnected]
    out = []
    for run in connected:
        same = sorted((r for r in connected if r.serial == run.serial), key=lambda r: r.seed)
        others = [r for r in same if r.seed != run.seed]
        other = None
        if others:
            later = [r for r in others if r.seed > run.seed]
            other = later[0] if later else others[0]
        match = [r for r in off if r.serial == run.serial and r.seed == run.seed]
        match = match or sorted((r for r in off if r.serial == run.serial), key=lambda r: r.seed)
        out.append((run, other, match[0] if match else None))
    return out


def _run_jobs(
    jobs: list[_Job], n_jobs: int | None, dask_address: str | None, progress: bool
) -> list[_RunScores]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="scoring runs", unit="run", disable=not progress)
    results: list[_RunScores] = []
    try:
        if dask_address:
            from distributed import Client, as_completed

            with Client(dask_address, timeout="10s") as client:
                futures = client.map(score_job, jobs, pure=False)
                for future in as_completed(futures):
                    results.append(future.result())
                    bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=n_jobs or 1, return_as="generator_unordered")
            try:
                for result in parallel(delayed(score_job)(job) for job in jobs):
                    results.append(result)
                    bar.update()
            finally:
                if (n_jobs or 1) != 1:  # leave no worker processes behind
                    from joblib.externals.loky import get_reusable_executor

                    get_reusable_executor().shutdown(wait=True, kill_workers=True)
    finally:
        bar.close()
    return sorted(results, key=lambda r: r.index)


def _row(name: str, task: str, scores: list[float | None], device: list[float], lower: bool,
         protocol: Protocol, seed: int) -> dict[str, Any]:
    pairs = [(d, s) for d, s in zip(device, scores, strict=True) if s is not None]
    values = [s for s in scores if s is not None]
    row: dict[str, Any] = {"name": name, "kind": KINDS.get(name, "reference"),
                           "description": DESCRIPTIONS.get(name, f"reference ESN, {name[4:]} units, "
                                                           "pinned hyper-parameters, noiseless"),
                           "per_run": scores}
    key = "nrmse" if lower else "mc"
    if len(values) >= 2:
        est = mean_interval(values, protocol.confidence)
        row[key], row[f"{key}_ci"] = est.mean, [est.low, est.high]
    else:
        row[key], row[f"{key}_ci"] = (values[0] if values else None), None
    row["normalisation"] = "std" if lower else "squared correlation on test, summed over delays"
    if name != "device" and len(pairs) >= 2:
        test = paired_test([p[0] for p in pairs], [p[1] for p in pairs], lower_is_better=lower,
                           confidence=protocol.confidence, seed=seed)
        row["paired_difference"] = {"mean": test.mean_difference, "ci": list(test.interval),
                                    "n": test.n, "definition": "device - control, per run"}
        row["p_value"] = test.p
        row["p_t"], row["p_sign_flip"] = test.p_t, test.p_sign_flip
    elif name != "device":
        row["paired_difference"], row["p_value"] = None, None
    return row


def _task_report(task: str, names: list[str], results: list[_RunScores], protocol: Protocol,
                 esn_tuning: dict[str, Any]) -> dict[str, Any]:
    spec = task_for(task)
    lower = spec.lower_is_better
    device = [r.scores["device"][task] for r in results]
    rows = []
    for k, name in enumerate(names):
        scores = [r.scores.get(name, {}).get(task) for r in results]
        if all(s is None for s in scores):
            continue
        rows.append(_row(name, task, scores, device, lower, protocol, seed=k))
    controls = [r for r in rows if r["name"] != "device" and r["p_value"] is not None]
    adjusted = holm([r["p_value"] for r in controls])
    for row, p in zip(controls, adjusted, strict=True):
        row["p_holm"] = float(p)
        better = row["paired_difference"]["mean"] < 0 if lower else row["paired_difference"]["mean"] > 0
        row["device_better"] = bool(better and p < protocol.significance)
    by_name = {r["name"]: r for r in rows}
    required = REQUIRED[spec.score]
    missing = [n for n in required if by_name.get(n, {}).get("p_value") is None]
    failed = [n for n in required if n not in missing and not by_name[n]["device_better"]]
    key = "nrmse" if lower else "mc"
    input_rows = [r for r in rows if r["kind"] == "input_only" and r["name"] in required]
    best_input = (min if lower else max)(input_rows, key=lambda r: r[key])
    report: dict[str, Any] = {
        "task": task,
        "description": spec.description,
        "score": key,
        "lower_is_better": lower,
        "normalisation": NRMSE_DEFINITION if lower else "sum over delays of squared correlation on test",
        "rows": rows,
        "verdict": {
            "computes": not missing and not failed,
            "required_controls": list(required),
            "failed": failed,
            "missing": missing,
            "rule": (f"computes only if the device beats every required control, each with a "
                     f"Holm-corrected one-sided p < {protocol.significance:g} (the larger of a paired "
                     f"t-test and a sign-flip test over {len(results)} runs)"),
        },
        "margins": {
            "best_input_only": {"name": best_input["name"], **(best_input["paired_difference"] or {})},
            "esn_equal": ({**(by_name["esn_equal"]["paired_difference"] or {})}
                          if "esn_equal" in by_name else None),
            "definition": "device - control (mean over runs, t-interval); negative = device better"
            if lower else "device - control; positive = device better",
        },
        "esn_tuning": esn_tuning,
    }
    if protocol.range_normalised and lower:
        report["range_normalised"] = {
            "definition": RANGE_DEFINITION,
            "rows": [
                {"name": n, "nrmse_range": float(np.mean([r.range_scores[n][task] for r in results
                                                          if n in r.range_scores]))}
                for n in names if all(n in r.range_scores for r in results)
            ],
            "published_figure": 0.8661 if task == "narma10" else None,
        }
    return report


def evaluate(
    runs: list[RunData],
    *,
    protocol: Protocol,
    tasks: Sequence[str],
    n_jobs: int | None = None,
    dask_address: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``runs`` on ``tasks`` beside every control; return the report.json content.

    ``runs``: connected runs (at least 2 serial x seed units; another seed of the same
    serial gives the other-run control) and optionally ``disconnected=True`` runs (paired
    by serial and seed, else by serial). ``n_jobs``: joblib workers (default 1; -1 = all
    cores); ``dask_address``: ``tcp://HOST:PORT`` of a dask.distributed scheduler instead.
    """
    tasks = tuple(tasks)
    for t in tasks:
        task_for(t)
    if not tasks:
        raise ValueError("no task to score")
    runs = [r.select(protocol.feature_names) for r in runs]
    paired = _pair_runs(runs)
    if len(paired) < 2:
        raise ValueError(f"need at least 2 connected runs for paired statistics, got {len(paired)}")
    names_set = {r.feature_names for r in runs}
    if len(names_set) != 1:
        raise ValueError(f"runs have different features: {sorted(names_set)}")
    first = paired[0][0]
    split = protocol.split(len(first.u))
    n_features = first.features.shape[1]
    serials = sorted({r.serial for r, _, _ in paired})
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        tuning = tune_esn(first.u, tasks, n_features, split, protocol.esn_grid, seed=first.seed,
                          alphas=protocol.ridge_alphas)
    warnings = [f"esn_equal on {task}: the validation optimum is on the grid edge ({', '.join(t['edges'])})"
                for task, t in tuning.items() if t["edges"]]
    reference: dict[int, EsnParams] = {}
    reference_tuning: dict[str, Any] = {}
    for units in protocol.reference_esn_units:
        if protocol.tune_reference_esn or units not in REFERENCE_PARAMS:
            t = tune_esn(first.u, ("narma10",), units, split, protocol.esn_grid, seed=first.seed,
                         alphas=protocol.ridge_alphas)["narma10"]
            reference[units] = t["params"]
            reference_tuning[str(units)] = {**t, "params": t["params"].as_dict()}
        else:
            reference[units] = REFERENCE_PARAMS[units]
            reference_tuning[str(units)] = {"params": reference[units].as_dict(), "pinned": True}
    esn_params = {t: v["params"] for t, v in tuning.items()}
    inputs: dict[int, np.ndarray] = {}
    for run, _, _ in paired:
        if run.seed in inputs and not np.array_equal(inputs[run.seed], run.u):
            raise ValueError(f"runs with seed {run.seed} have different inputs u")
        inputs.setdefault(run.seed, run.u)
    seeds = sorted(inputs)
    jobs = [
        _Job(k, run.u, protocol, tasks, esn_params, 1000 + run.seed, k == 0, n_features,
             run=run, other=other, disconnected=off)
        for k, (run, other, off) in enumerate(paired)
    ] + [
        _Job(len(paired) + k, inputs[seed], protocol, tasks, esn_params, 1000 + seed, k == 0, n_features,
             reference_params=reference)
        for k, seed in enumerate(seeds)
    ]
    done = _run_jobs(jobs, n_jobs, dask_address, progress)
    by_seed = {seed: done[len(paired) + k] for k, seed in enumerate(seeds)}
    results = []
    for (run, _, _), own in zip(paired, done[: len(paired)], strict=True):
        shared = by_seed[run.seed]
        merged = _RunScores(own.index, {**shared.scores, **own.scores},
                            {**shared.range_scores, **own.range_scores}, {**shared.curves, **own.curves})
        results.append(merged)
    first_shared = by_seed[paired[0][0].seed]
    window_predictions = {task: {**first_shared.predictions.get(task, {}), **preds}
                          for task, preds in done[0].predictions.items()}
    names = ["device", "mean", *INPUT_ONLY, *DEVICE_CONTROLS, "esn_equal", "esn_equal_noise_matched",
             *(f"esn_{u}" for u in protocol.reference_esn_units)]
    if not any("device_disconnected" in r.scores for r in results):
        warnings.append("no input-disconnected run: that control and the noise-matched ESN are missing, "
                        "so no task can be judged computing")
    if not any("device_other_run" in r.scores for r in results):
        warnings.append("no serial has two seeds: the other-run control is missing")
    tuning_json = {t: {**v, "params": v["params"].as_dict()} for t, v in tuning.items()}
    task_reports = {
        t: _task_report(t, names, results, protocol, tuning_json[t]) for t in tasks
    }
    for t, rep in task_reports.items():
        if task_for(t).score == "memory_capacity":
            rep["curves"] = {
                name: np.mean([r.curves[name] for r in results if name in r.curves], axis=0).tolist()
                for name in names if any(name in r.curves for r in results)
            }
    runs_info = [{"seed": r.seed, "serial": r.serial, "capture": r.capture,
                  "other_run": o.capture if o else None, "disconnected_run": d.capture if d else None}
                 for r, o, d in paired]
    machinery = {}
    if "narma10" in tasks:
        for units in protocol.reference_esn_units:
            row = next(r for r in task_reports["narma10"]["rows"] if r["name"] == f"esn_{units}")
            expected = REFERENCE_EXPECTED.get(units)
            machinery[f"esn_{units}"] = {
                "nrmse": row["nrmse"], "nrmse_ci": row["nrmse_ci"],
                "expected": ({"mean": expected[0], "sd": expected[1], "source": "reservoir.md"}
                             if expected else None),
                "params": reference_tuning[str(units)],
            }
    return {
        "protocol": protocol.as_dict(),
        "tasks": list(tasks),
        "nrmse_definition": NRMSE_DEFINITION,
        "interval": f"{protocol.confidence:.0%} Student-t interval over {len(results)} runs "
                    f"({len({r.seed for r, _, _ in paired})} seeds x {len(serials)} serials)",
        "split": split.as_dict(),
        "feature_names": list(first.feature_names),
        "n_features": n_features,
        "runs": runs_info,
        "serials": serials,
        "results": task_reports,
        "machinery_check": machinery,
        "prediction_window": {"first_test_step": split.train_end, "seed": first.seed,
                              "serial": first.serial, "targets": done[0].targets,
                              "predictions": window_predictions},
        "warnings": warnings,
    }


def run_data_from_capture(path: str | Path, report_dir: str | Path | None = None) -> RunData:
    """A :class:`RunData` from a capture written by the experiment: u from the metadata
    ``input_u``, features from :func:`reservoir.features.features_from_capture`."""
    from asic_bridge.capture import CaptureReader
    from reservoir.features import features_from_capture

    path = Path(path)
    with CaptureReader(path) as reader:
        meta = reader.metadata()
    if "input_u" not in meta:
        raise ValueError(f"capture {path} has no input_u in its metadata: not an experiment capture")
    feats = features_from_capture(path)
    u = np.asarray(meta["input_u"], dtype=float)
    rel = str(path.relative_to(report_dir)) if report_dir and path.is_relative_to(report_dir) else str(path)
    return RunData(
        seed=int(meta.get("seed", 0)), serial=str(meta.get("device_serial", "unknown")), u=u,
        features=feats.values[: len(u)], feature_names=feats.names, capture=rel,
        disconnected=bool(meta.get("disconnected", False)),
    )
