"""Make :class:`RunData` from the emulator: seeds x serials (distinct silicon), each with
its input-disconnected twin, through the experiment's own capture path.

This is a stand-in until the experiment (``hashrc narma``) hands its runs to
:func:`reservoir.evaluation.evaluate` itself: it drives each emulated device with
:func:`reservoir.experiment.drive_device`, writes one capture per run, and reads the
features back from the capture alone (:func:`reservoir.features.features_from_capture`).
Time-multiplexed encoders set the knob once per sub-interval (tau / N each) and their
per-sub-interval features are folded to one row per input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asic_bridge.models import DIFFICULTY, spec_for
from reservoir.encoders import (
    DifficultyEncoder,
    Encoder,
    TimeMultiplexEncoder,
    WrapsEncoder,
    encoder_for,
    fold_subintervals,
)
from reservoir.evaluation import RunData
from reservoir.protocol import Protocol
from reservoir.tasks import uniform_input


@dataclass(frozen=True, slots=True)
class HeldEncoder(WrapsEncoder):
    """The input-disconnected control: the knob held at the mean of the encoded values."""

    base: Any
    value: float

    @property
    def name(self) -> str:
        return f"{self.base.name}-disconnected"

    @property
    def sub_steps(self) -> int:
        return int(getattr(self.base, "sub_steps", 1))

    def encode(self, u: np.ndarray) -> np.ndarray:
        return np.full(len(u) * self.sub_steps, self.value)


@dataclass(frozen=True, slots=True)
class _Expanded:
    """An encoder's values for the already-repeated input: one value per knob setting."""

    encoder: Any
    driven: np.ndarray

    @property
    def knob(self) -> str:
        return self.encoder.knob

    @property
    def unit(self) -> str:
        return self.encoder.unit

    def encode(self, driven: np.ndarray) -> np.ndarray:
        n = len(driven) // self.encoder.sub_steps
        return self.encoder.encode(driven[:: self.encoder.sub_steps][:n])


def serials_for(model: str, n: int) -> list[str]:
    """``n`` distinct emulated serials of a model (each draws its own silicon)."""
    return [f"{model.upper()}-EMU-{k + 1:04d}" for k in range(n)]


def emulated_run(
    model: str, protocol: Protocol, *, seed: int, serial: str, out_dir: Path, disconnected: bool = False,
) -> RunData:
    """One run on an emulated device: capture under ``out_dir``, features from the capture."""
    from asic_bridge.capture.metadata import device_metadata, new_capture
    from emulator.device import EmulatedDevice
    from reservoir.experiment import drive_device
    from reservoir.features import features_from_capture

    spec = spec_for(model)
    encoder: Encoder | HeldEncoder = encoder_for(protocol.encoding, spec,
                                                 sub_steps=max(protocol.sub_steps, 1))
    if protocol.sub_steps <= 1 and encoder.sub_steps != 1:
        encoder = encoder_for(protocol.encoding.removeprefix("tm-"), spec)
    published = DifficultyEncoder(spec, d0=protocol.difficulty_d0)
    if isinstance(encoder, DifficultyEncoder):
        encoder = published
    elif isinstance(encoder, TimeMultiplexEncoder) and isinstance(encoder.base, DifficultyEncoder):
        encoder = TimeMultiplexEncoder(published, encoder.sub_steps, encoder.mask_seed)
    u = uniform_input(protocol.steps, seed=seed)
    if disconnected:
        encoder = HeldEncoder(encoder, float(np.mean(encoder.encode(u))))
    fixed: dict[str, float] = {}
    if encoder.knob != DIFFICULTY.name:  # the published mean share rate
        fixed[DIFFICULTY.name] = published.mean_rate_difficulty()
    tag = "off" if disconnected else "on"
    path = out_dir / f"{model}-{protocol.encoding}-{serial}-seed{seed}-{tag}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    hold = protocol.hold_s / encoder.sub_steps
    driven = np.repeat(u, encoder.sub_steps) if encoder.sub_steps > 1 else u
    url = f"emu://{model}?serial={serial}&seed={seed}"
    with EmulatedDevice(model, serial=serial, seed=seed) as device:
        meta = device_metadata(
            device, url, task="shared-uniform", knobs=[encoder.knob], hold_s=hold, encoder=encoder.name,
            seed=seed, extra={"steps": len(driven), "input_u": [round(float(x), 12) for x in u],
                              "disconnected": disconnected, "protocol": protocol.name,
                              "sub_steps": encoder.sub_steps, "fixed_knobs": fixed},
        )
        with new_capture(path, meta, overwrite=True) as writer:
            # the base encoder maps the (masked) inputs; each value is held tau / N
            drive_device(device, _Expanded(encoder, driven), driven, hold_s=hold, writer=writer,
                         fixed_knobs=fixed)
    feats = features_from_capture(path)
    values, names = feats.values, feats.names
    if encoder.sub_steps > 1:
        values, names = fold_subintervals(values[: len(u) * encoder.sub_steps], names, encoder.sub_steps)
    if len(values) != len(u):
        raise RuntimeError(f"capture {path} has {len(values)} steps, expected {len(u)}")
    return RunData(seed, serial, u, values, tuple(names), str(path.relative_to(out_dir)), disconnected)


def _one(args: tuple[str, Protocol, int, str, str, bool]) -> RunData:
    model, protocol, seed, serial, out, off = args
    return emulated_run(model, protocol, seed=seed, serial=serial, out_dir=Path(out), disconnected=off)


def emulated_runs(
    model: str, protocol: Protocol, out_dir: str | Path, *, seeds: list[int] | None = None,
    serials: list[str] | None = None, n_jobs: int = 1, progress: bool = False,
) -> list[RunData]:
    """Every seed x serial run (and its disconnected twin) of an emulated model, in
    parallel over ``n_jobs`` processes (joblib); the order of the result is fixed."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    seeds = list(range(protocol.n_seeds)) if seeds is None else seeds
    serials = serials_for(model, protocol.n_serials) if serials is None else serials
    jobs = [(model, protocol, seed, serial, str(out_dir), off)
            for serial in serials for seed in seeds for off in (False, True)]
    bar = tqdm(total=len(jobs), desc=f"driving emulated {model}", unit="run", disable=not progress)
    out = []
    try:
        for run in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_one)(j) for j in jobs):
            out.append(run)
            bar.update()
    finally:
        bar.close()
        if n_jobs != 1:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True, kill_workers=True)
    return out
