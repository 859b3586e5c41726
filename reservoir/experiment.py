"""The NARMA-10 experiment: drive a device, capture, extract features, read out, compare.

The experiment code sees only :class:`asic_bridge.device.Device`; it never knows whether
the device is hardware or the emulator. Features come from the capture file alone, so an
analysis can be re-run from the capture.

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

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asic_bridge import __version__
from asic_bridge.capture import CaptureWriter
from asic_bridge.device import Device
from asic_bridge.models import DIFFICULTY, KNOBS, spec_for
from reservoir.encoders import DifficultyEncoder, Encoder, encoder_for
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


@dataclass(frozen=True, slots=True)
class ExperimentConfig:
    """One NARMA-10 experiment: a device model, an encoding and the protocol."""

    device: str = "lv06"
    encoding: str = "frequency"
    steps: int = 3200
    hold_s: float = 1.0
    seed: int = 0
    n_seeds: int = 3
    washout: int = 200
    serial: str | None = None
    include_echoes: bool = False

    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.n_seeds)]


@dataclass(slots=True)
class SeedOutcome:
    """One seed's scores and its test-span predictions."""

    seed: int
    capture: str
    results: dict[str, ReadoutResult]
    feature_names: tuple[str, ...]
    target_test: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)


def drive_device(
    device: Device,
    encoder: Encoder,
    u: np.ndarray,
    *,
    hold_s: float,
    capture_path: str | Path,
    metadata: dict[str, Any],
    fixed_knobs: dict[str, float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Hold each encoded input for ``hold_s`` on the device's clock, recording every event.

    ``fixed_knobs`` (name -> value) are set once before the first step.
    """
    values = encoder.encode(u)
    info = device.info
    meta = {
        "device_model": info.model,
        "device_serial": info.serial,
        "firmware": info.firmware,
        "clock": "simulated" if device.clock.simulated else "wall",
        "chip_count": device.spec.chip_count,
        "encoder": encoder.name,
        "knob": encoder.knob,
        "hold_s": hold_s,
        "steps": len(u),
        "hashrc_version": __version__,
        "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **metadata,
    }
    with CaptureWriter(capture_path, metadata=meta, overwrite=True) as writer:
        for knob, value in (fixed_knobs or {}).items():
            device.set_knob(knob, value, KNOBS[knob].unit)
        for k, value in enumerate(values):
            device.set_knob(encoder.knob, float(value), encoder.unit)
            device.clock.sleep(hold_s)
            writer.write_many(device.events())
            if progress is not None:
                progress(k)
        device.clock.sleep(DRAIN_S)
        writer.write_many(device.events())
        writer.set_metadata("input_u", [round(float(x), 12) for x in u])


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


def open_emulated(config: ExperimentConfig, seed: int) -> Device:
    """The emulated device for one seed: the same silicon (serial), fresh noise (seed)."""
    from emulator.device import EmulatedDevice

    return EmulatedDevice(config.device, serial=config.serial, seed=seed)


def run_seed(
    config: ExperimentConfig,
    seed: int,
    capture_path: Path,
    open_device: Callable[[ExperimentConfig, int], Device] = open_emulated,
) -> SeedOutcome:
    """Generate the task for ``seed``, drive the device, score from the capture."""
    spec = spec_for(config.device)
    encoder = encoder_for(config.encoding, spec)
    u, target = narma10(config.steps, seed=seed)
    fixed: dict[str, float] = {}
    if config.encoding != "difficulty":
        # same mean share rate as the published difficulty encoding
        fixed[DIFFICULTY.name] = DifficultyEncoder(spec).mean_rate_difficulty()
    with open_device(config, seed) as device:
        drive_device(
            device, encoder, u, hold_s=config.hold_s, capture_path=capture_path,
            metadata={"seed": seed, "task": "narma10", "fixed_knobs": fixed},
            fixed_knobs=fixed,
        )
    features = features_from_capture(capture_path, include_echoes=config.include_echoes)
    if len(features.values) != config.steps:
        raise RuntimeError(f"capture has {len(features.values)} steps, expected {config.steps}")
    split = ChronologicalSplit.make(config.steps, washout=config.washout)
    results = score_features(features.values, u, target, split, shuffle_seed=seed + 1_000_003)
    return SeedOutcome(seed, str(capture_path), results, features.names, target[split.test], fixed)


def build_report(
    config: ExperimentConfig, outcomes: list[SeedOutcome], wall_seconds: float
) -> dict[str, Any]:
    """The report.json content: every figure with its controls and interval."""
    estimates = {
        name: mean_interval([o.results[name].test_nrmse for o in outcomes]) for name in RESULT_NAMES
    }
    device = estimates["device"]
    beats_input = clearly_below(device, estimates["input_linear_10"])
    beats_shuffled = clearly_below(device, estimates["device_shuffled"])
    primary = outcomes[0]
    split = ChronologicalSplit.make(config.steps, washout=config.washout)
    sim_seconds = config.steps * config.hold_s * len(outcomes)
    return {
        "task": "narma10",
        "device": config.device,
        "encoding": config.encoding,
        "seed": config.seed,
        "seeds": [o.seed for o in outcomes],
        "steps": config.steps,
        "hold_s": config.hold_s,
        "nrmse_normalisation": "std",
        "nrmse_definition": "RMSE / std(test target)",
        "interval": f"{int(device.confidence * 100)} % Student-t interval over {device.n} seeds",
        "split": split.as_dict(),
        "results": [
            {
                "name": name,
                "nrmse": estimates[name].mean,
                "nrmse_ci": [estimates[name].low, estimates[name].high],
                "per_seed": [o.results[name].test_nrmse for o in outcomes],
                "ridge_alpha_per_seed": [o.results[name].alpha for o in outcomes],
                "description": DESCRIPTIONS[name],
            }
            for name in RESULT_NAMES
        ],
        "verdict": {
            "device_beats_input_linear_10": beats_input,
            "device_beats_device_shuffled": beats_shuffled,
            "computes": beats_input and beats_shuffled,
            "rule": "computes only if the device interval lies entirely below both control intervals",
            "device_beats_esn_matched": clearly_below(device, estimates["esn_matched"]),
        },
        "fixed_knobs": primary.fixed,
        "feature_names": list(primary.feature_names),
        "captures": [o.capture for o in outcomes],
        "test_predictions": {
            "seed": primary.seed,
            "first_step": split.train_end,
            "target": primary.target_test.round(6).tolist(),
            **{name: primary.results[name].test_prediction.round(6).tolist()
               for name in ("device", "input_linear_10")},
        },
        "config": asdict(config),
        "sim_seconds": sim_seconds,
        "wall_seconds": wall_seconds,
        "speed_ratio": sim_seconds / wall_seconds if wall_seconds > 0 else None,
        "hashrc_version": __version__,
    }


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    open_device: Callable[[ExperimentConfig, int], Device] = open_emulated,
) -> dict[str, Any]:
    """Run every seed, write captures and ``report.json`` under ``out_dir``, return the
    report. The first seed's capture is ``capture.sqlite``; the others go to
    ``replicates/capture-seed-N.sqlite``."""
    import json

    if config.n_seeds < 3:
        raise ValueError("an interval needs at least 3 seeds (n_seeds >= 3)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    outcomes = []
    for k, seed in enumerate(config.seeds()):
        path = out / "capture.sqlite" if k == 0 else out / "replicates" / f"capture-seed-{seed}.sqlite"
        outcome = run_seed(config, seed, path, open_device)
        outcome.capture = str(path.relative_to(out))  # the report is read from beside them
        outcomes.append(outcome)
    report = build_report(config, outcomes, time.perf_counter() - started)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
