"""``hashrc narma``: the NARMA-10 experiment on any device URL, or the re-analysis of its
captures."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HELP = (
    "Run the NARMA-10 experiment on a device (URL, or a model name lv06|s9|lbbox for the "
    "emulator) and write DIR/capture.sqlite, DIR/replicates/ and DIR/report.json; given a "
    "capture file instead, re-analyse it (and the replicates beside it)."
)


# the same as reservoir.experiment's and reservoir.calibration's (a test holds them equal);
# repeated here so that building the parser does not import the analysis stack
ENCODINGS = ("frequency", "difficulty", "difficulty-published")
MIN_SEEDS = 3
DEFAULT_SHARES_PER_STEP = 10.0


def add_arguments(parser: argparse.ArgumentParser, *, default_device: str | None = None,
                  default_out: str = "runs/narma") -> None:
    parser.add_argument("--device", required=default_device is None, default=default_device,
                        metavar="URL|MODEL|CAPTURE",
                        help="device URL (emu://, axeos://, cgminer://, goldshell://, serial://), "
                        "a model (lv06, s9, lbbox: emu://MODEL), or a capture file to re-analyse")
    parser.add_argument("--encoding", choices=ENCODINGS, default="frequency",
                        help="frequency (clock), difficulty (calibrated to --shares-per-step), or "
                        "difficulty-published (D = 25/(u+0.05)); default frequency")
    parser.add_argument("--steps", type=int, default=3200, help="steps (default 3200)")
    parser.add_argument("--hold-s", type=float, default=1.0, metavar="S",
                        help="seconds each input is held, on the device's clock (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="first data seed (default 0)")
    parser.add_argument("--seeds", type=int, default=MIN_SEEDS,
                        help=f"number of data seeds (at least {MIN_SEEDS} for a result)")
    parser.add_argument("--serial", default=None, help="emulated device serial (which silicon)")
    parser.add_argument("--shares-per-step", type=float, default=DEFAULT_SHARES_PER_STEP, metavar="N",
                        help=f"mean accepted shares per step the difficulty is calibrated to "
                        f"(default {DEFAULT_SHARES_PER_STEP:g})")
    parser.add_argument("--pilot", action="store_true",
                        help="accept a run too short or with too few seeds for a result (path check)")
    parser.add_argument("--out", default=default_out, metavar="DIR",
                        help=f"output directory (default {default_out})")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in DIR")


def format_table(report: dict[str, Any]) -> str:
    """The report's results as a text table with intervals and the verdict."""
    paths = ", ".join(f"{k} via {v}" for k, v in report.get("control_path", {}).items())
    lines = [
        f"NARMA-10 on {report['device']} ({report.get('device_url')}, {report.get('clock')} clock), "
        f"{report['encoding']} encoding, {report['steps']} steps x {report['hold_s']:g} s, "
        f"seeds {report['seeds']}",
        f"control path: {paths}",
        f"split: {report['split']}",
        "NRMSE = RMSE / std(test target); 1.0 = no better than predicting the mean",
        f"{'readout':<18}{'NRMSE':>8}   {report['interval']}",
    ]
    if report.get("pilot"):
        lines.insert(1, "PILOT RUN: too few seeds or test steps for a result; figures are a path check")
    for row in report["results"]:
        low, high = row["nrmse_ci"]
        lines.append(f"{row['name']:<18}{row['nrmse']:>8.3f}   [{low:.3f}, {high:.3f}]  {row['description']}")
    verdict = report["verdict"]
    lines.append(
        "verdict: the device "
        + ("COMPUTES: " if verdict["computes"] else "does NOT compute: ")
        + f"beats input_linear_10: {verdict['device_beats_input_linear_10']}, "
        f"beats device_shuffled: {verdict['device_beats_device_shuffled']} (rule: {verdict['rule']})"
    )
    if report.get("speed_ratio"):
        lines.append(
            f"simulated {report['sim_seconds']:.0f} s in {report['wall_seconds']:.1f} s wall: "
            f"speed ratio {report['speed_ratio']:.0f}x (simulated / wall)"
        )
    else:
        lines.append(f"{report['wall_seconds']:.1f} s wall")
    return "\n".join(lines)


def _captures_of(path: Path) -> list[Path]:
    """A capture and, if it is a run's ``capture.sqlite``, its replicates."""
    replicates = sorted((path.parent / "replicates").glob("capture-seed-*.sqlite"))
    return [path, *replicates] if path.name == "capture.sqlite" else [path]


def is_capture_path(device: str) -> bool:
    return "://" not in device and Path(device).is_file()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) stops the run like Ctrl-C does: what was
    captured is kept and said. Only in the main thread; the previous handler comes back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    from reservoir.experiment import (
        ExperimentConfig,
        RunLog,
        analyse_captures,
        check_out,
        device_url,
        run_experiment,
    )

    out = Path(args.out)
    if is_capture_path(args.device):
        captures = _captures_of(Path(args.device))
        print(f"hashrc narma: re-analysing {len(captures)} capture(s) from {args.device}", flush=True)
        report = analyse_captures(captures, out, overwrite=args.overwrite, pilot=args.pilot)
        print(format_table(report))
        print(f"wrote {out / 'report.json'}")
        return 0
    config = ExperimentConfig(
        device=args.device, encoding=args.encoding, steps=args.steps, hold_s=args.hold_s,
        seed=args.seed, n_seeds=args.seeds, serial=args.serial,
        shares_per_step=args.shares_per_step, pilot=args.pilot,
    )
    config.validate()
    device_url(config, config.seed)  # an unknown model is refused before anything runs
    check_out(out, args.overwrite)
    print(f"hashrc narma: NARMA-10 on {args.device}, {args.encoding} encoding, {args.steps} steps x "
          f"{args.hold_s:g} s, seeds {config.seeds()} (after a share-rate calibration), into {out}",
          flush=True)
    log = RunLog()
    from tqdm import tqdm

    with tqdm(total=config.steps * config.n_seeds, unit="step", file=sys.stderr, delay=2.0,
              mininterval=1.0, dynamic_ncols=True, desc="narma") as bar, _sigterm_interrupts():
        try:
            report = run_experiment(config, out, overwrite=args.overwrite, progress=bar, log=log)
        except KeyboardInterrupt:
            bar.close()
            print(f"hashrc narma: interrupted at step {log.step} of {config.steps} "
                  f"({log.current}); kept {log.kept()}; no report written", file=sys.stderr)
            return 130
    print(format_table(report))
    print(f"wrote {out / 'capture.sqlite'} and {out / 'report.json'}")
    return 0
