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

Per seed the device is driven twice with the same protocol: once by the encoded input,
once with its input disconnected (the knob held at the mean encoded value,
``replicates/capture-seed-N-disconnected.sqlite``). With ``n_serials`` > 1 on ``emu://``
each serial ``MODEL-EMU-0001..N`` is distinct silicon with its own captures; on hardware
the serial is the device's own.

Scoring is :func:`reservoir.evaluation.evaluate` on the tasks NARMA-10, NARMA-20, memory
capacity and delayed XOR, all from the same runs (i.i.d. uniform input), under a named
protocol (:mod:`reservoir.protocol`, ``recommended`` or ``published``; steps, hold and
seeds as given override the preset): predict-the-mean, the input-only readouts, the
device features circularly shifted, another run (seed) of the same serial, the
input-disconnected device, and echo state networks of the device's size; paired
per-run differences with Holm-corrected p-values. NRMSE = RMSE / std(test target).
The device "computes" on a task only if it beats every required control significantly.

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
from reservoir.features import features_from_capture
from reservoir.protocol import ALL_TASKS, PRESETS, preset
from reservoir.tasks.narma import narma10

TASKS = ALL_TASKS  # narma10, narma20, mc, xor: all scored from the same runs
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
    """One experiment: a device (URL or model name), an encoding, the protocol preset it
    is scored under (``recommended`` or ``published``; steps, hold and seeds here override
    the preset's), seeds x serials. Each seed is also run with the input disconnected.

    ``pilot`` accepts runs too short or with too few seeds for a result (a path check):
    their report carries ``"pilot": true`` and no verdict, and no disconnected twin is
    driven (it would decide nothing)."""

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
    protocol: str = "recommended"
    n_serials: int = 1

    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.n_seeds)]

    @property
    def washout_steps(self) -> int:
        """The preset's washout (200 recommended, 50 published), or a fifth of a shorter run."""
        if self.washout is not None:
            return self.washout
        return min(PRESETS[self.protocol].washout, self.steps // 5) if self.protocol in PRESETS \
            else default_washout(self.steps)

    def evaluation_protocol(self) -> Any:
        """The :class:`reservoir.protocol.Protocol` the runs are scored under: the preset
        with this run's steps, hold, washout, seeds, serials and encoding."""
        return preset(self.protocol).with_(
            steps=self.steps, hold_s=self.hold_s, washout=self.washout_steps, n_seeds=self.n_seeds,
            n_serials=self.n_serials, encoding=self.encoding)

    def test_steps(self) -> int:
        """Test steps the protocol's chronological split leaves."""
        split = self.evaluation_protocol().split(self.steps)
        return split.n - split.train_end

    def min_test_steps(self) -> int:
        """:data:`MIN_TEST_STEPS`, or fewer if the preset at its own length has fewer (the
        published preset: 90 of 500 steps): a preset as defined is always a result."""
        own = PRESETS[self.protocol]
        split = own.split(own.steps)
        return min(MIN_TEST_STEPS, split.n - split.train_end)

    def validate(self) -> None:
        """Refuse a protocol that cannot mean anything, stating the minimum (ValueError)."""
        preset(self.protocol)
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; encodings: {', '.join(ENCODINGS)}")
        if not (self.hold_s > 0 and np.isfinite(self.hold_s)):
            raise ValueError(f"--hold-s {self.hold_s:g}: the hold time must be a positive number of seconds")
        if not self.shares_per_step > 0:
            raise ValueError(f"--shares-per-step {self.shares_per_step:g} must be positive")
        if self.n_seeds < 1:
            raise ValueError(f"--seeds {self.n_seeds}: at least 1 (at least {MIN_SEEDS} for a result)")
        if self.n_serials < 1:
            raise ValueError(f"--serials {self.n_serials}: at least 1")
        if self.n_serials > 1 and self.serial is not None:
            raise ValueError("--serial names one device: give --serial or --serials N, not both")
        if self.steps < self.washout_steps + 30:  # what the split itself needs
            from dataclasses import replace

            # the washout grows with the steps: the least that fits its own washout
            floor = next(n for n in range(self.steps, self.steps + 10_000)
                         if n >= replace(self, steps=n).washout_steps + 30)
            raise ValueError(f"--steps {self.steps} is too few: at least {floor} "
                             f"(a result needs {min_steps(self.washout)})")
        if self.pilot:
            return
        n_test = self.test_steps()
        needed = self.min_test_steps()
        if n_test < needed:
            raise ValueError(
                f"--steps {self.steps} leaves {n_test} test steps after a washout of "
                f"{self.washout_steps}; a result needs at least {needed}: use --steps "
                f"{min_steps(self.washout)} or more (or --pilot for a path check without a result)")
        if self.n_seeds < MIN_SEEDS:
            raise ValueError(
                f"--seeds {self.n_seeds}: an interval needs at least {MIN_SEEDS} seeds "
                "(or --pilot for a path check without a result)")


def serials(config: ExperimentConfig) -> list[str | None]:
    """The serials to drive: ``MODEL-EMU-0001..N`` on an emulated model when ``n_serials``
    > 1 (distinct silicon), else the one given (None: the device's own)."""
    if config.n_serials == 1:
        return [config.serial]
    text = config.device.strip()
    parts = urlsplit(text if "://" in text else f"emu://{text.lower()}")
    if parts.scheme != "emu":
        raise ValueError(f"--serials {config.n_serials}: distinct serials exist only on the emulator "
                         f"(emu://); {text} is one device: repeat the run on each device instead")
    from reservoir.emulated_runs import serials_for

    return list(serials_for(parts.netloc or parts.path, config.n_serials))


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
    disconnected: bool = False,
) -> SeedRun:
    """Generate the task for ``seed``, open the device, calibrate, drive, then compute the
    features from the capture. The capture is created only once the device is open.
    ``disconnected``: the same protocol with the knob held at the mean encoded value (the
    input-disconnected control, :class:`reservoir.emulated_runs.HeldEncoder`)."""
    u, _ = narma10(config.steps, seed=seed)
    url = device_url(config, seed)
    knob = FREQUENCY.name if config.encoding == "frequency" else DIFFICULTY.name
    with opener(url) as device:
        check_hold(device, url, knob, config.hold_s)
        meta = device_metadata(
            device, url, task="narma10", knobs=[knob], hold_s=config.hold_s,
            encoder=config.encoding, seed=seed,
            extra={"steps": config.steps, "shares_per_step": config.shares_per_step,
                   "input_u": [round(float(x), 12) for x in u], "disconnected": disconnected,
                   "protocol": config.protocol},
        )
        if log is not None:
            log.current, log.step = str(capture_path), 0
        with new_capture(capture_path, meta, overwrite=True) as writer:
            try:
                calibration = None
                what = f"narma seed {seed}" + (" disconnected" if disconnected else "")
                _describe(progress, f"{what}: calibrating")
                if config.encoding != "difficulty-published":
                    calibration = calibrate(device, hold_s=config.hold_s,
                                            shares_per_step=config.shares_per_step,
                                            window_steps=config.calibration_steps,
                                            sink=writer.write_many,
                                            encoded=knob == DIFFICULTY.name)
                    writer.set_metadata("calibration", calibration.as_dict())
                encoder = make_encoder(config.encoding, device.spec, calibration)
                if disconnected:
                    from reservoir.emulated_runs import HeldEncoder

                    encoder = HeldEncoder(encoder, float(np.mean(encoder.encode(u))))
                fixed: dict[str, float] = {}
                if knob != DIFFICULTY.name:  # the mean share rate of the difficulty encoding
                    fixed[DIFFICULTY.name] = (calibration.mean_difficulty() if calibration
                                              else DifficultyEncoder(device.spec).mean_rate_difficulty())
                writer.set_metadata("fixed_knobs", fixed)
                _describe(progress, what)
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
        excluded=features.excluded, disconnected=bool(meta.get("disconnected", False)),
    )


def evaluate_runs(
    config: ExperimentConfig, runs: Sequence[SeedRun], *, wall_seconds: float, device: dict[str, Any],
) -> dict[str, Any]:
    """The report.json content: :func:`reservoir.evaluation.evaluate` on :data:`TASKS`
    under ``config``'s protocol, with the run's header (device, URL, clock, control path,
    calibration, captures, pilot)."""
    from reservoir.evaluation import NRMSE_DEFINITION, evaluate

    protocol = config.evaluation_protocol()
    connected = [r for r in runs if not r.disconnected]
    pilot = (config.pilot or len({r.seed for r in connected}) < MIN_SEEDS
             or config.test_steps() < config.min_test_steps())
    primary = connected[0] if connected else runs[0]
    sim_seconds = config.steps * config.hold_s * len(runs)
    header: dict[str, Any] = {
        "task": "narma10",
        "tasks": list(TASKS),
        "device": device["model"],
        "device_url": device["url"],
        "clock": device["clock"],
        "control_path": primary.control_path,
        "encoding": config.encoding,
        "protocol_name": config.protocol,
        "seed": config.seed,
        "seeds": sorted({r.seed for r in connected}),
        "serials": sorted({r.serial for r in connected}),
        "steps": config.steps,
        "hold_s": config.hold_s,
        "pilot": pilot,
        "nrmse_normalisation": "std",
        "nrmse_definition": NRMSE_DEFINITION,
        "fixed_knobs": primary.fixed,
        "calibration": [r.calibration for r in connected],
        "feature_names": list(primary.feature_names),
        "features_excluded": [list(x) for x in primary.excluded],
        "captures": [r.capture for r in connected],
        "disconnected_captures": [r.capture for r in runs if r.disconnected],
        "config": asdict(config),
    }
    if len(connected) >= 2:
        report = {**header, **evaluate([r.run_data() for r in runs], protocol=protocol, tasks=TASKS)}
        report["serials"] = header["serials"]
    else:  # one run cannot be paired with anything: a path check only
        report = {**header, "protocol": protocol.as_dict(), "results": {},
                  "interval": "no interval: 1 run", "runs": [], "warnings": [
                      "one connected run: no paired statistics (give --seeds 2 or more)"]}
    for task, rep in report["results"].items():
        n_runs = len(rep["rows"][0]["per_run"])
        n_tested = sum(1 for r in rep["rows"] if "p_holm" in r)  # Holm corrects across all of them
        needed = runs_for_a_verdict(n_tested, protocol.significance)
        rep["verdict"]["runs_needed_for_a_verdict"] = needed
        if n_runs < needed:
            report["warnings"].append(
                f"{task}: with {n_runs} runs the smallest sign-flip p is 2^-{n_runs}; Holm across "
                f"{n_tested} controls cannot bring it below "
                f"{protocol.significance:g}, so 'computes' is out of reach: use at least {needed} runs "
                "(seeds x serials)")
    if pilot:
        for rep in report["results"].values():
            rep["verdict"]["computes"] = False
            rep["verdict"]["rule"] = (f"pilot run (fewer than {MIN_SEEDS} seeds or {config.min_test_steps()} "
                                      f"test steps): no verdict; {rep['verdict']['rule']}")
    report.update({
        "sim_seconds": sim_seconds if device["clock"] == "simulated" else None,
        "wall_seconds": wall_seconds,
        "speed_ratio": sim_seconds / wall_seconds
        if device["clock"] == "simulated" and wall_seconds > 0 else None,
        "hashrc_version": __version__,
    })
    return report


def runs_for_a_verdict(n_controls: int, significance: float) -> int:
    """The fewest paired runs n for which a device beating all ``n_controls`` every time
    can pass: the exact sign-flip p is then 2^-n for each, and Holm multiplies the
    smallest by ``n_controls`` (9 for the 15 controls of every task at 0.05)."""
    n = 1
    while n_controls * 0.5 ** n >= significance:
        n += 1
    return n


def capture_path(out: Path, seed: int, serial: str | None, *, first: bool, disconnected: bool) -> Path:
    """The first run's capture is ``capture.sqlite``; the others go to
    ``replicates/capture-[SERIAL-]seed-N[-disconnected].sqlite`` (the serial named only
    when several are driven)."""
    if first and not disconnected:
        return out / "capture.sqlite"
    tag = f"{serial}-" if serial else ""
    return out / "replicates" / f"capture-{tag}seed-{seed}{'-disconnected' if disconnected else ''}.sqlite"


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
    from dataclasses import replace

    runs = []
    several = config.n_serials > 1
    for k, serial in enumerate(serials(config)):
        one = replace(config, serial=serial, n_serials=1)
        for j, seed in enumerate(config.seeds()):
            # a pilot checks the path and has no verdict: its disconnected twin would cost
            # device time and decide nothing
            for off in (False,) if config.pilot else (False, True):
                path = capture_path(out, seed, serial if several else None, first=k == 0 and j == 0,
                                    disconnected=off)
                runs.append(run_seed(one, seed, path, opener, progress=progress, log=log, disconnected=off))
    return write_report(config, runs, out, time.perf_counter() - started)


def write_report(
    config: ExperimentConfig, runs: list[SeedRun], out: Path, wall_seconds: float
) -> dict[str, Any]:
    """Score the runs and write ``out/report.json``, ``out/report.md`` and the PNG plots
    (:func:`reservoir.report.write_report`; capture paths relative to ``out``)."""
    from reservoir.report import write_report as write_files

    device = _device_summary(runs[0].capture)
    runs = [_relative(r, out) for r in runs]
    report = evaluate_runs(config, runs, wall_seconds=wall_seconds, device=device)
    if report["results"]:
        write_files(report, out)
    else:
        (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def _relative(run: SeedRun, out: Path) -> SeedRun:
    from dataclasses import replace

    return replace(run, capture=os.path.relpath(run.capture, out))


def analyse_captures(captures: Sequence[str | Path], out_dir: str | Path, *,
                     overwrite: bool = False, include_echoes: bool = False,
                     pilot: bool = False) -> dict[str, Any]:
    """Re-analyse NARMA-10 captures (one per seed and serial, with their disconnected
    twins) without a device; writes ``out_dir/report.json``, ``report.md`` and plots."""
    from dataclasses import replace

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
        seed=min(r.seed for r in runs), n_seeds=len({r.seed for r in runs}), include_echoes=include_echoes,
        shares_per_step=float(meta.get("shares_per_step") or DEFAULT_SHARES_PER_STEP),
        protocol=str(meta.get("protocol") or "recommended"),
        n_serials=len({r.serial for r in runs}), pilot=pilot,
    )
    config = replace(config, pilot=pilot or len({r.seed for r in runs if not r.disconnected}) < MIN_SEEDS
                     or config.test_steps() < config.min_test_steps())
    out.mkdir(parents=True, exist_ok=True)
    return write_report(config, runs, out, time.perf_counter() - started)
