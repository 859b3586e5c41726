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
    "Run the reservoir experiment on a device (URL, or a model name lv06|s9|lbbox for the "
    "emulator): per seed one driven run and one with the input disconnected, scored on "
    "NARMA-10, NARMA-20, memory capacity and delayed XOR beside every control with paired "
    "statistics; write DIR/capture.sqlite, DIR/replicates/, DIR/report.json, report.md and "
    "plots. Given a capture file instead, re-analyse it (and the replicates beside it)."
)
PROTOCOLS = ("recommended", "published")


# the same as reservoir.experiment's and reservoir.calibration's (a test holds them equal);
# repeated here so that building the parser does not import the analysis stack
ENCODINGS = ("frequency", "difficulty", "difficulty-published")
MIN_SEEDS = 3
# the fewest runs for which "computes" is reachable (Holm at 0.05 across a task's 15
# controls, exact sign-flip p = 2^-n): reservoir.experiment.runs_for_a_verdict (a test holds it)
DEFAULT_SEEDS = 9
DEFAULT_SHARES_PER_STEP = 10.0


def add_arguments(parser: argparse.ArgumentParser, *, default_device: str | None = None,
                  default_out: str = "runs/narma") -> None:
    parser.add_argument("--device", required=default_device is None, default=default_device,
                        metavar="URL|MODEL|CAPTURE",
                        help="device URL (emu://, axeos://, cgminer://, goldshell://, serial://), "
                        "a model (lv06, s9, lbbox: emu://MODEL), or a capture file to re-analyse")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="recommended",
                        help="evaluation preset (reservoir/protocol.py): recommended (3200 steps x 1 s, "
                        "frequency) or published (500 steps x 1 s, D = 25/(u+0.05), 2 share features); "
                        "--steps, --hold-s, --seeds and --encoding override it")
    parser.add_argument("--encoding", choices=ENCODINGS, default=None,
                        help="frequency (clock), difficulty (calibrated to --shares-per-step), or "
                        "difficulty-published (D = 25/(u+0.05)); default: the protocol's")
    parser.add_argument("--steps", type=int, default=None, help="steps (default: the protocol's)")
    parser.add_argument("--hold-s", type=float, default=None, metavar="S",
                        help="seconds each input is held, on the device's clock (default: the protocol's)")
    parser.add_argument("--seed", type=int, default=0, help="first data seed (default 0)")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                        help=f"data seeds, each also run disconnected (default {DEFAULT_SEEDS}: the "
                        f"fewest runs x serials for which a verdict 'computes' is reachable; at least "
                        f"{MIN_SEEDS} for an interval)")
    parser.add_argument("--serial", default=None, help="emulated device serial (which silicon)")
    parser.add_argument("--serials", type=int, default=1, metavar="N",
                        help="emu:// only: drive N distinct emulated devices MODEL-EMU-0001..N (default 1)")
    parser.add_argument("--shares-per-step", type=float, default=DEFAULT_SHARES_PER_STEP, metavar="N",
                        help=f"mean accepted shares per step the difficulty is calibrated to "
                        f"(default {DEFAULT_SHARES_PER_STEP:g})")
    parser.add_argument("--pilot", action="store_true",
                        help="accept a run too short or with too few seeds for a result (path check)")
    parser.add_argument("--out", default=default_out, metavar="DIR",
                        help=f"output directory (default {default_out})")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in DIR")


def format_header(report: dict[str, Any]) -> list[str]:
    """Device, URL, clock, control path, encoding, protocol, seeds x serials, split."""
    paths = ", ".join(f"{k} via {v}" for k, v in report.get("control_path", {}).items())
    lines = [
        f"device {report['device']} ({report.get('device_url')}, {report.get('clock')} clock), "
        f"{report['encoding']} encoding, protocol {report.get('protocol_name')}, "
        f"{report['steps']} steps x {report['hold_s']:g} s, seeds {report['seeds']} x serials "
        f"{report['serials']}, each seed also run with the input disconnected",
        f"control path: {paths}",
        f"split: {report.get('split')}",
        "NRMSE = RMSE / std(test target); 1.0 = no better than predicting the mean. "
        "MC = sum over delays of the squared correlation on test",
        f"intervals: {report['interval']}; device - control = paired per-run difference (mean and "
        "interval); p (Holm) = larger of a one-sided paired t-test and a sign-flip test, "
        "Holm-corrected across the task's controls",
    ]
    if report.get("pilot"):
        lines.insert(1, "PILOT RUN: too few seeds or test steps for a result; figures are a path check")
    return lines


def format_table(report: dict[str, Any]) -> str:
    """The report as text: header, then per task a table of every readout with its interval,
    the paired difference to the device and its Holm p, the verdict and the margins."""
    from reservoir.report import fmt_figure, fmt_p, verdict_lines

    lines = format_header(report)
    verdicts = dict(zip(report["results"], verdict_lines(report), strict=True)) if report["results"] else {}
    for task, rep in report["results"].items():
        key = rep["score"]
        label = "NRMSE" if key == "nrmse" else "MC"
        lines += ["", f"{task}: {rep['description']}",
                  f"{'readout':<26}{label:>7}  {'95 % interval':<17}{'device - control':<27}{'p (Holm)':>9}"]
        for row in rep["rows"]:
            ci = row.get(f"{key}_ci")
            diff = row.get("paired_difference")
            interval = f"[{fmt_figure(ci[0])}, {fmt_figure(ci[1])}]" if ci else "n/a"
            paired = f"{diff['mean']:+.3f} [{diff['ci'][0]:+.3f}, {diff['ci'][1]:+.3f}]" if diff else ""
            lines.append(f"{row['name']:<26}{fmt_figure(row[key]):>7}  {interval:<17}{paired:<27}"
                         f"{fmt_p(row.get('p_holm'), missing=''):>9}")
        if "range_normalised" in rep:
            rn = rep["range_normalised"]
            cells = ", ".join(f"{r['name']} {r['nrmse_range']:.3f}" for r in rn["rows"]
                              if r["name"] in ("device", "mean", "input_linear_10"))
            published = rn.get("published_figure")
            lines.append(f"range-normalised NRMSE ({rn['definition']}): {cells}"
                         + (f"; published figure {published}" if published else ""))
        lines.append(f"verdict {verdicts[task]}")
    for warning in report.get("warnings", []):
        lines.append(f"warning: {warning}")
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
    replicates = sorted((path.parent / "replicates").glob("capture-*.sqlite"))
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
    from reservoir.protocol import preset

    proto = preset(args.protocol)
    default_encoding = "difficulty-published" if proto.encoding == "difficulty" else proto.encoding
    config = ExperimentConfig(
        device=args.device, encoding=args.encoding or default_encoding,
        steps=proto.steps if args.steps is None else args.steps,
        hold_s=proto.hold_s if args.hold_s is None else args.hold_s,
        seed=args.seed, n_seeds=args.seeds, serial=args.serial,
        shares_per_step=args.shares_per_step, pilot=args.pilot, protocol=args.protocol,
        n_serials=args.serials,
    )
    config.validate()
    from reservoir.experiment import serials

    serials(config)  # --serials on hardware is refused before anything runs
    device_url(config, config.seed)  # an unknown model is refused before anything runs
    check_out(out, args.overwrite)
    print(f"hashrc narma: NARMA-10, NARMA-20, MC and XOR on {args.device}, {config.encoding} encoding, "
          f"protocol {config.protocol}, {config.steps} steps x {config.hold_s:g} s, seeds {config.seeds()} "
          f"x {config.n_serials} serial(s), each seed driven and input-disconnected (after a share-rate "
          f"calibration), into {out}", flush=True)
    log = RunLog()
    from tqdm import tqdm

    total = config.steps * config.n_seeds * config.n_serials * 2  # each seed driven and disconnected
    with tqdm(total=total, unit="step", file=sys.stderr, delay=2.0, mininterval=1.0, dynamic_ncols=True,
              desc="narma") as bar, _sigterm_interrupts():
        try:
            report = run_experiment(config, out, overwrite=args.overwrite, progress=bar, log=log)
        except KeyboardInterrupt:
            bar.close()
            print(f"hashrc narma: interrupted at step {log.step} of {config.steps} "
                  f"({log.current}); kept {log.kept()}; no report written", file=sys.stderr)
            return 130
    print(format_table(report))
    print(f"wrote {out / 'capture.sqlite'}, {out / 'replicates'}, {out / 'report.json'} and "
          f"{out / 'report.md'}")
    return 0
