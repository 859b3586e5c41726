"""The NARMA-10 experiment: drive a device, capture, extract features, read out, compare.

The experiment opens a device URL (:func:`asic_bridge.device.open_device`; a bare model
name ``lv06``, ``s9``, ``lbbox`` is short for ``emu://MODEL``) and sees only
:class:`asic_bridge.device.Device`: it never imports the emulator and never knows whether
the device is hardware. Features come from the capture file alone, so an analysis can be
re-run from the captures (:func:`analyse_captures`).

Per seed: open the device, calibrate its share rate (:mod:`reservoir.calibration`; the
difficulty that gives ``shares_per_step`` accepted shares per step on average), hold each
encoded input for ``hold_s`` on the device's clock, writing events to the capture as they
arrive, then compute the step features from the capture. The device serial (which
silicon) and the data seed (which task input; for ``emu://`` also the noise) are separate.

Results (NRMSE = RMSE / std of the test target), each over several seeds:

* ``device``: ridge readout on the device's step features;
* ``mean``: predict the training mean (about 1.0);
* ``input_linear_10``: ridge readout on the last 10 inputs u(t..t-9), no device at all;
* ``device_shuffled``: the device features with their steps permuted against the target
  (same readout): what the features score when their timing carries no information;
* ``esn_matched``: an echo state network driven by u with as many units as the device
  has features and the same signal-to-noise ratios: unit i gets noise so that the share
  of its variance its input does not explain equals that of device feature i
  (:func:`reservoir.esn.unexplained_fractions`); its spectral radius and input scaling
  are chosen on the validation part like the ridge.

The device "computes" only if its interval lies entirely below those of both
``input_linear_10`` and ``device_shuffled``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from asic_bridge import __version__
from asic_bridge.capture import CaptureReader
from asic_bridge.capture.metadata import control_path_for, device_metadata, new_capture, refuse_existing
from asic_bridge.device import Device, open_device
from asic_bridge.errors import CaptureError
from asic_bridge.models import DIFFICULTY, FREQUENCY, KNOBS, SPECS, DeviceSpec
from reservoir.calibration import (
    DEFAULT_SHARES_PER_STEP,
    CalibratedDifficultyEncoder,
    Calibration,
    calibrate,
)
from reservoir.encoders import DifficultyEncoder, Encoder, FrequencyEncoder
from reservoir.esn import EchoStateNetwork, unexplained_fractions
from reservoir.features import features_from_capture
from reservoir.readout import (
    ChronologicalSplit,
    ReadoutResult,
    delay_embedding,
    fit_ridge_readout,
    mean_prediction,
)
from reservoir.stats import clearly_below, mean_interval
from reservoir.tasks.narma import narma10

RESULT_NAMES = ("device", "mean", "input_linear_10", "device_shuffled", "esn_matched")
DESCRIPTIONS = {
    "device": "ridge readout on the device's step features",
    "mean": "predict the training mean",
    "input_linear_10": "ridge readout on the last 10 inputs (no device)",
    "device_shuffled": "device features permuted in time against the target",
    "esn_matched": "echo state network, same number of features and signal-to-noise ratio",
}
ESN_GRID = ((0.5, 0.2), (0.5, 1.0), (0.9, 0.2), (0.9, 1.0))  # (spectral radius, input scaling)
DRAIN_S = 1.0  # extra time after the last step for results still in flight
ENCODINGS = ("frequency", "difficulty", "difficulty-published")
MIN_TEST_STEPS = 100  # fewer test steps than this cannot give a result worth printing
MIN_SEEDS = 3  # an interval over seeds needs at least this many
MAX_WASHOUT = 200


def default_washout(steps: int) -> int:
    """200 steps, or a fifth of a shorter run."""
    return min(MAX_WASHOUT, steps // 5)


def test_steps(steps: int, washout: int) -> int:
    """Test steps the chronological split leaves."""
    return round(max(steps - washout, 0) / 3)


def min_steps(washout: int | None = None) -> int:
    """The fewest steps that leave :data:`MIN_TEST_STEPS` test steps."""
    n = 1
    while test_steps(n, default_washout(n) if washout is None else washout) < MIN_TEST_STEPS:
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class ExperimentConfig:
    """One NARMA-10 experiment: a device (URL or model name), an encoding, the protocol.

    ``pilot`` accepts runs too short or with too few seeds for a result (a path check):
    their report carries ``"pilot": true`` and no verdict."""

    device: str = "lv06"
    encoding: str = "frequency"
    steps: int = 3200
    hold_s: float = 1.0
    seed: int = 0
    n_seeds: int = 3
    washout: int | None = None
    serial: str | None = None
    include_echoes: bool = False
    shares_per_step: float = DEFAULT_SHARES_PER_STEP
    calibration_steps: int = 10
    pilot: bool = False

    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.n_seeds)]

    @property
    def washout_steps(self) -> int:
        return default_washout(self.steps) if self.washout is None else self.washout

    def validate(self) -> None:
        """Refuse a protocol that cannot mean anything, stating the minimum (ValueError)."""
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; encodings: {', '.join(ENCODINGS)}")
        if not (self.hold_s > 0 and np.isfinite(self.hold_s)):
            raise ValueError(f"--hold-s {self.hold_s:g}: the hold time must be a positive number of seconds")
        if not self.shares_per_step > 0:
            raise ValueError(f"--shares-per-step {self.shares_per_step:g} must be positive")
        if self.n_seeds < 1:
            raise ValueError(f"--seeds {self.n_seeds}: at least 1 (at least {MIN_SEEDS} for a result)")
        floor = self.washout_steps + 30  # what the split itself needs
        if self.steps < floor:
            raise ValueError(f"--steps {self.steps} is too few: at least {floor} "
                             f"(a result needs {min_steps(self.washout)})")
        if self.pilot:
            return
        n_test = test_steps(self.steps, self.washout_steps)
        if n_test < MIN_TEST_STEPS:
            raise ValueError(
                f"--steps {self.steps} leaves {n_test} test steps after a washout of "
                f"{self.washout_steps}; a result needs at least {MIN_TEST_STEPS}: use --steps "
                f"{min_steps(self.washout)} or more (or --pilot for a path check without a result)")
        if self.n_seeds < MIN_SEEDS:
            raise ValueError(
                f"--seeds {self.n_seeds}: an interval needs at least {MIN_SEEDS} seeds "
                "(or --pilot for a path check without a result)")


def device_url(config: ExperimentConfig, seed: int) -> str:
    """The URL a seed's device is opened with. A bare model name is ``emu://MODEL`` with
    the serial and the seed as query keys; an ``emu://`` URL without a seed gets the data
    seed (fresh noise per seed, same silicon); other URLs are used as given."""
    text = config.device.strip()
    if "://" not in text:
        if text.lower() not in SPECS:
            raise ValueError(f"unknown device {text!r}: give a URL (emu://, axeos://, cgminer://, "
                             f"goldshell://, serial://) or a model: {', '.join(sorted(SPECS))}")
        text = f"emu://{text.lower()}"
    parts = urlsplit(text)
    if parts.scheme != "emu":
        return text
    query = dict(parse_qsl(parts.query))
    if config.serial is not None:
        query.setdefault("serial", config.serial)
    query.setdefault("seed", str(seed))
    return urlunsplit(parts._replace(query=urlencode(query)))


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


@dataclass(slots=True)
class RunLog:
    """What a run has written so far (read after an interruption)."""

    captures: list[tuple[str, int]] = field(default_factory=list)  # (path, events committed)
    current: str | None = None
    step: int = 0

    def kept(self) -> str:
        parts = [f"{events} events in {path}" for path, events in self.captures]
        return "; ".join(parts) if parts else "nothing"


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One capture, aligned per step (the shape of :class:`reservoir.evaluation.RunData`)."""

    seed: int
    serial: str
    u: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    capture: str
    target: np.ndarray
    control_path: dict[str, str]
    fixed: dict[str, float]
    calibration: dict[str, Any] | None = None
    excluded: tuple[tuple[str, str], ...] = ()
    disconnected: bool = False

    def run_data(self) -> Any:
        """This run as :class:`reservoir.evaluation.RunData` (the evaluation's input)."""
        from reservoir.evaluation import RunData

        return RunData(seed=self.seed, serial=self.serial, u=self.u, features=self.features,
                       feature_names=self.feature_names, capture=self.capture,
                       disconnected=self.disconnected)


def make_encoder(encoding: str, spec: DeviceSpec, calibration: Calibration | None) -> Encoder | Any:
    """The encoder of ``encoding`` (``difficulty`` needs the calibration)."""
    if encoding == "frequency":
        return FrequencyEncoder(spec)
    if encoding == "difficulty-published":
        return DifficultyEncoder(spec)
    if encoding == "difficulty":
        if calibration is None:
            raise ValueError("the difficulty encoding needs a share-rate calibration")
        return CalibratedDifficultyEncoder(spec, calibration)
    raise ValueError(f"unknown encoding {encoding!r}; encodings: {', '.join(ENCODINGS)}")


def check_hold(device: Device, url: str, knob: str, hold_s: float) -> None:
    """Refuse a clock encoding whose hold is shorter than the device needs to apply a
    clock change (a management API restarts the firmware)."""
    settle_of = getattr(device, "settle_time_s", None)
    settle = settle_of(knob) if callable(settle_of) else getattr(device, "restart_settle_s", None)
    if knob == FREQUENCY.name and settle and hold_s < float(settle):
        raise ValueError(
            f"--hold-s {hold_s:g} is shorter than {url}'s restart-and-settle time for a clock "
            f"change ({float(settle):g} s through its {control_path_for(device, url, knob)}): use --hold-s "
            f"{float(settle):g} or more, or --encoding difficulty")


def drive_device(
    device: Device,
    encoder: Encoder | Any,
    u: np.ndarray,
    *,
    hold_s: float,
    writer: Any,
    fixed_knobs: dict[str, float] | None = None,
    progress: Progress | None = None,
    log: RunLog | None = None,
) -> None:
    """Hold each encoded input for ``hold_s`` on the device's clock, writing every event
    to ``writer`` after each step (so a killed run keeps all but its last batch).
    ``fixed_knobs`` (name -> value) are set once before the first step; the first step's
    control time goes into the metadata as ``first_step_t_ns``."""
    values = encoder.encode(u)
    for knob, value in (fixed_knobs or {}).items():
        device.set_knob(knob, value, KNOBS[knob].unit)
    writer.write_many(device.events())
    for k, value in enumerate(values):
        event = device.set_knob(encoder.knob, float(value), encoder.unit)
        if k == 0:
            writer.set_metadata("first_step_t_ns", event.t_ns)
        device.clock.sleep(hold_s)
        writer.write_many(device.events())
        if log is not None:
            log.step = k + 1
        if progress is not None:
            progress.update(1)
    device.clock.sleep(DRAIN_S)
    writer.write_many(device.events())


def run_seed(
    config: ExperimentConfig,
    seed: int,
    capture_path: Path,
    opener: Callable[[str], Device] = open_device,
    *,
    progress: Progress | None = None,
    log: RunLog | None = None,
) -> SeedRun:
    """Generate the task for ``seed``, open the device, calibrate, drive, then compute the
    features from the capture. The capture is created only once the device is open."""
    u, _ = narma10(config.steps, seed=seed)
    url = device_url(config, seed)
    knob = FREQUENCY.name if config.encoding == "frequency" else DIFFICULTY.name
    with opener(url) as device:
        check_hold(device, url, knob, config.hold_s)
        meta = device_metadata(
            device, url, task="narma10", knobs=[knob], hold_s=config.hold_s,
            encoder=config.encoding, seed=seed,
            extra={"steps": config.steps, "shares_per_step": config.shares_per_step,
                   "input_u": [round(float(x), 12) for x in u]},
        )
        if log is not None:
            log.current, log.step = str(capture_path), 0
        with new_capture(capture_path, meta, overwrite=True) as writer:
            try:
                calibration = None
                _describe(progress, f"narma seed {seed}: calibrating")
                if config.encoding != "difficulty-published":
                    calibration = calibrate(device, hold_s=config.hold_s,
                                            shares_per_step=config.shares_per_step,
                                            window_steps=config.calibration_steps,
                                            sink=writer.write_many,
                                            encoded=knob == DIFFICULTY.name)
                    writer.set_metadata("calibration", calibration.as_dict())
                encoder = make_encoder(config.encoding, device.spec, calibration)
                fixed: dict[str, float] = {}
                if knob != DIFFICULTY.name:  # the mean share rate of the difficulty encoding
                    fixed[DIFFICULTY.name] = (calibration.mean_difficulty() if calibration
                                              else DifficultyEncoder(device.spec).mean_rate_difficulty())
                writer.set_metadata("fixed_knobs", fixed)
                _describe(progress, f"narma seed {seed}")
                drive_device(device, encoder, u, hold_s=config.hold_s, writer=writer,
                             fixed_knobs=fixed, progress=progress, log=log)
            finally:
                if log is not None:
                    writer.flush()
                    log.captures.append((str(capture_path), writer.committed))
    return load_run(capture_path)


def _describe(progress: Progress | None, text: str) -> None:
    describe = getattr(progress, "set_description_str", None)
    if callable(describe):
        describe(text)


def load_run(capture_path: str | Path, *, include_echoes: bool = False) -> SeedRun:
    """A seed's run rebuilt from its capture alone: the task input from the metadata, the
    target regenerated from the seed (and checked against the stored input)."""
    with CaptureReader(capture_path) as reader:
        meta = reader.metadata()
    if meta.get("task") != "narma10" or "input_u" not in meta or meta.get("seed") is None:
        raise CaptureError(f"{capture_path} holds no NARMA-10 run (no task input_u and seed in its "
                           "metadata): features can be computed from it, a NARMA-10 score cannot")
    u_stored = np.asarray(meta["input_u"], dtype=float)
    u, target = narma10(len(u_stored), seed=int(meta["seed"]))
    if not np.allclose(u, u_stored, atol=1e-9):
        raise CaptureError(f"{capture_path}: its input_u is not NARMA-10 seed {meta['seed']}'s input")
    features = features_from_capture(capture_path, include_echoes=include_echoes)
    n = len(features.values)
    if n != len(u):
        raise CaptureError(f"{capture_path} has {n} steps of {len(u)} (an interrupted run?)")
    knobs = meta.get("knobs") or [meta.get("knob")]
    return SeedRun(
        seed=int(meta["seed"]), serial=str(meta.get("device_serial")), u=u,
        features=features.values, feature_names=features.names, capture=str(capture_path),
        target=target, control_path=dict(meta.get("control_path") or {k: "simulation" for k in knobs}),
        fixed=dict(meta.get("fixed_knobs") or {}), calibration=meta.get("calibration"),
        excluded=features.excluded,
    )


def score_features(
    x: np.ndarray, u: np.ndarray, target: np.ndarray, split: ChronologicalSplit, shuffle_seed: int
) -> dict[str, ReadoutResult]:
    """The device readout and its three controls on one seed's data."""
    rng = np.random.default_rng(shuffle_seed)
    shuffled = x[rng.permutation(len(x))]
    return {
        "device": fit_ridge_readout(x, target, split),
        "mean": mean_prediction(target, split),
        "input_linear_10": fit_ridge_readout(delay_embedding(u, 10), target, split),
        "device_shuffled": fit_ridge_readout(shuffled, target, split),
        "esn_matched": matched_esn_readout(x, u, target, split, seed=shuffle_seed),
    }


def matched_esn_readout(
    x: np.ndarray, u: np.ndarray, target: np.ndarray, split: ChronologicalSplit, *, seed: int
) -> ReadoutResult:
    """Ridge readout of an ESN with the device's feature count and signal-to-noise ratio;
    the ESN's spectral radius and input scaling are chosen on the validation part."""
    rho = unexplained_fractions(x, u, split.train)
    noise = rho / (1.0 - rho)  # noise variance over signal variance, per unit
    best: ReadoutResult | None = None
    for radius, scaling in ESN_GRID:
        esn = EchoStateNetwork(max(1, x.shape[1]), spectral_radius=radius, input_scaling=scaling,
                               noise_fraction=noise, random_state=seed)
        result = fit_ridge_readout(esn.fit_transform(u[:, None]), target, split)
        if best is None or result.validation_nrmse < best.validation_nrmse:
            best = result
    assert best is not None
    return best


def score_run(run: SeedRun, split: ChronologicalSplit) -> dict[str, ReadoutResult]:
    return score_features(run.features, run.u, run.target, split, shuffle_seed=run.seed + 1_000_003)


def evaluate_runs(
    config: ExperimentConfig, runs: Sequence[SeedRun], *, wall_seconds: float, device: dict[str, Any],
) -> dict[str, Any]:
    """The report.json content: every figure with its controls and interval.

    This is the one seam to :func:`reservoir.evaluation.evaluate` (issue 9): the runs
    have its ``RunData`` shape."""
    split = ChronologicalSplit.make(config.steps, washout=config.washout_steps)
    per_run = [score_run(r, split) for r in runs]
    pilot = config.pilot or len(runs) < MIN_SEEDS or (split.n - split.train_end) < MIN_TEST_STEPS

    def estimate(name: str) -> dict[str, Any]:
        values = [r[name].test_nrmse for r in per_run]
        if len(values) < 2:
            return {"nrmse": float(values[0]), "nrmse_ci": [float("nan"), float("nan")]}
        e = mean_interval(values)
        return {"nrmse": e.mean, "nrmse_ci": [e.low, e.high], "_e": e}

    estimates = {name: estimate(name) for name in RESULT_NAMES}
    dev = estimates["device"]
    if "_e" in dev:
        beats_input = clearly_below(dev["_e"], estimates["input_linear_10"]["_e"])
        beats_shuffled = clearly_below(dev["_e"], estimates["device_shuffled"]["_e"])
        beats_esn = clearly_below(dev["_e"], estimates["esn_matched"]["_e"])
        interval = f"{int(dev['_e'].confidence * 100)} % Student-t interval over {dev['_e'].n} seeds"
    else:
        beats_input = beats_shuffled = beats_esn = False
        interval = "no interval: 1 seed"
    rule = "computes only if the device interval lies entirely below both control intervals"
    primary, first = runs[0], per_run[0]
    sim_seconds = config.steps * config.hold_s * len(runs)
    return {
        "task": "narma10",
        "device": device["model"],
        "device_url": device["url"],
        "clock": device["clock"],
        "control_path": primary.control_path,
        "encoding": config.encoding,
        "seed": config.seed,
        "seeds": [r.seed for r in runs],
        "serials": [r.serial for r in runs],
        "steps": config.steps,
        "hold_s": config.hold_s,
        "pilot": pilot,
        "nrmse_normalisation": "std",
        "nrmse_definition": "RMSE / std(test target)",
        "interval": interval,
        "split": split.as_dict(),
        "results": [
            {
                "name": name,
                "nrmse": estimates[name]["nrmse"],
                "nrmse_ci": estimates[name]["nrmse_ci"],
                "per_seed": [r[name].test_nrmse for r in per_run],
                "ridge_alpha_per_seed": [r[name].alpha for r in per_run],
                "description": DESCRIPTIONS[name],
            }
            for name in RESULT_NAMES
        ],
        "verdict": {
            "device_beats_input_linear_10": beats_input and not pilot,
            "device_beats_device_shuffled": beats_shuffled and not pilot,
            "computes": beats_input and beats_shuffled and not pilot,
            "rule": rule if not pilot else f"pilot run (fewer than {MIN_SEEDS} seeds or "
                    f"{MIN_TEST_STEPS} test steps): no verdict; {rule}",
            "device_beats_esn_matched": beats_esn and not pilot,
        },
        "fixed_knobs": primary.fixed,
        "calibration": [r.calibration for r in runs],
        "feature_names": list(primary.feature_names),
        "features_excluded": [list(x) for x in primary.excluded],
        "captures": [r.capture for r in runs],
        "test_predictions": {
            "seed": primary.seed,
            "first_step": split.train_end,
            "target": primary.target[split.test].round(6).tolist(),
            **{name: first[name].test_prediction.round(6).tolist()
               for name in ("device", "input_linear_10")},
        },
        "config": asdict(config),
        "sim_seconds": sim_seconds if device["clock"] == "simulated" else None,
        "wall_seconds": wall_seconds,
        "speed_ratio": sim_seconds / wall_seconds
        if device["clock"] == "simulated" and wall_seconds > 0 else None,
        "hashrc_version": __version__,
    }


def capture_paths(out: Path, seeds: Sequence[int]) -> list[Path]:
    """The first seed's capture is ``capture.sqlite``; the others go to
    ``replicates/capture-seed-N.sqlite``."""
    return [out / "capture.sqlite" if k == 0 else out / "replicates" / f"capture-seed-{seed}.sqlite"
            for k, seed in enumerate(seeds)]


def check_out(out: Path, overwrite: bool) -> None:
    """The one overwrite policy for a run directory: refuse one that holds a run unless
    ``overwrite``."""
    for name in ("report.json", "capture.sqlite", "replicates"):
        refuse_existing(out / name, overwrite)


def prepare_out(out: Path, overwrite: bool) -> None:
    """:func:`check_out`, then remove a previous run's captures and report."""
    check_out(out, overwrite)
    if overwrite:
        (out / "report.json").unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            (out / f"capture.sqlite{suffix}").unlink(missing_ok=True)
        shutil.rmtree(out / "replicates", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _device_summary(run_capture: str | Path) -> dict[str, Any]:
    with CaptureReader(run_capture) as reader:
        meta = reader.metadata()
    return {"model": meta.get("device_model"), "url": meta.get("device_url"), "clock": meta.get("clock")}


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    opener: Callable[[str], Device] = open_device,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    log: RunLog | None = None,
) -> dict[str, Any]:
    """Run every seed, write captures and ``report.json`` under ``out_dir``, return the
    report. ``opener`` maps a device URL to an open Device."""
    config.validate()
    out = Path(out_dir)
    prepare_out(out, overwrite)
    started = time.perf_counter()
    runs = []
    for seed, path in zip(config.seeds(), capture_paths(out, config.seeds()), strict=True):
        runs.append(run_seed(config, seed, path, opener, progress=progress, log=log))
    return write_report(config, runs, out, time.perf_counter() - started)


def write_report(
    config: ExperimentConfig, runs: list[SeedRun], out: Path, wall_seconds: float
) -> dict[str, Any]:
    """Score the runs and write ``out/report.json`` (capture paths relative to it)."""
    device = _device_summary(runs[0].capture)
    runs = [_relative(r, out) for r in runs]
    report = evaluate_runs(config, runs, wall_seconds=wall_seconds, device=device)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _relative(run: SeedRun, out: Path) -> SeedRun:
    from dataclasses import replace

    return replace(run, capture=os.path.relpath(run.capture, out))


def analyse_captures(captures: Sequence[str | Path], out_dir: str | Path, *,
                     overwrite: bool = False, include_echoes: bool = False,
                     pilot: bool = False) -> dict[str, Any]:
    """Re-analyse NARMA-10 captures (one per seed) without a device; writes
    ``out_dir/report.json``."""
    out = Path(out_dir)
    refuse_existing(out / "report.json", overwrite)
    started = time.perf_counter()
    runs = [load_run(c, include_echoes=include_echoes) for c in captures]
    with CaptureReader(captures[0]) as reader:
        meta = reader.metadata()
    steps = len(runs[0].u)
    config = ExperimentConfig(
        device=str(meta.get("device_url") or meta.get("device_model")),
        encoding=str(meta.get("encoder")), steps=steps, hold_s=float(meta["hold_s"]),
        seed=runs[0].seed, n_seeds=len(runs), include_echoes=include_echoes,
        shares_per_step=float(meta.get("shares_per_step") or DEFAULT_SHARES_PER_STEP),
        pilot=pilot or len(runs) < MIN_SEEDS or test_steps(steps, default_washout(steps)) < MIN_TEST_STEPS,
    )
    out.mkdir(parents=True, exist_ok=True)
    return write_report(config, runs, out, time.perf_counter() - started)
