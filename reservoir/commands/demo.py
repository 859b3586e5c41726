"""``hashrc demo``: the emulated end-to-end NARMA-10 experiment, then the dashboard."""

from __future__ import annotations

import argparse

HELP = (
    "Run the NARMA-10 experiment on an emulated device in simulated time: capture, "
    "features, ridge readout and its controls over 3 seeds; write DIR/capture.sqlite and "
    "DIR/report.json; then serve the dashboard."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["lv06", "s9", "lbbox"], default="lv06")
    parser.add_argument("--encoding", choices=["frequency", "difficulty"], default="frequency")
    parser.add_argument("--steps", type=int, default=3200, help="steps of 1 hold each (default 3200)")
    parser.add_argument("--hold-s", type=float, default=1.0, help="simulated seconds per step")
    parser.add_argument("--seed", type=int, default=0, help="first seed; seeds SEED..SEED+2 run")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (at least 3)")
    parser.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    parser.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")


def format_table(report: dict) -> str:
    """The report's results as a text table with intervals and the verdict."""
    lines = [
        f"NARMA-10 on emulated {report['device']} ({report['encoding']} encoding), "
        f"{report['steps']} steps x {report['hold_s']:g} s, seeds {report['seeds']}",
        f"split: {report['split']}",
        "NRMSE = RMSE / std(test target); 1.0 = no better than predicting the mean",
        f"{'readout':<18}{'NRMSE':>8}   {report['interval']}",
    ]
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
    lines.append(
        f"simulated {report['sim_seconds']:.0f} s in {report['wall_seconds']:.1f} s wall: "
        f"speed ratio {report['speed_ratio']:.0f}x (simulated / wall)"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reservoir.experiment import ExperimentConfig, run_experiment

    config = ExperimentConfig(
        device=args.device, encoding=args.encoding, steps=args.steps, hold_s=args.hold_s,
        seed=args.seed, n_seeds=args.seeds,
    )
    out = Path(args.out)
    report = run_experiment(config, out)
    print(format_table(report))
    print(f"wrote {out / 'capture.sqlite'} and {out / 'report.json'}")
    if args.no_dashboard:
        return 0
    from dashboard.commands import serve

    return serve(captures=out.parent, port=args.port)
