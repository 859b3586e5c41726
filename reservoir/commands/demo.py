"""``hashrc demo``: ``hashrc narma`` on the emulated LV06 (emu://lv06), then the dashboard."""

from __future__ import annotations

import argparse

from reservoir.commands import narma

HELP = (
    "Run `hashrc narma` on an emulated device (default lv06, i.e. emu://lv06) in simulated "
    "time: capture, features, ridge readout on NARMA-10, NARMA-20, MC and XOR beside every "
    "control, each seed also run with the input disconnected; write DIR/capture.sqlite, "
    "DIR/replicates/, DIR/report.json and report.md; then serve the dashboard."
)

format_table = narma.format_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    narma.add_arguments(parser, default_device="lv06", default_out="runs/demo")
    parser.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    code = narma.run(args)
    if code != 0 or args.no_dashboard:
        return code
    from dashboard.commands import serve

    return serve(captures=Path(args.out).parent, port=args.port)
