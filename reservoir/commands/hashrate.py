"""``hashrc hashrate CAPTURE``: effective hashrate with its exact Poisson interval."""

from __future__ import annotations

import argparse

HELP = (
    "Effective hashrate of a capture from its accepted shares (sum of difficulties x 2^32 / "
    "duration) with an exact Poisson interval, stale/duplicate/rejected rates with intervals, "
    "the latency budget its timestamps support, and the shares a 175 -> 220 GH/s claim needs. "
    "Writes DIR/report.json, report.md, rate.png."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="capture file (.sqlite)")
    parser.add_argument("--rated", type=float, default=None,
                        help="rated hashrate in GH/s (default: the capture model's nominal)")
    parser.add_argument("--out", default="runs/hashrate", help="output directory (default runs/hashrate)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asic_bridge.capture.store import open_capture
    from reservoir.hashrate import analyse_capture, write_report

    path = Path(args.capture)
    if not path.is_file():
        raise FileNotFoundError(f"no capture file {path}")
    if args.rated is not None and not args.rated > 0:
        raise ValueError(f"--rated must be positive GH/s, got {args.rated}")
    report = analyse_capture(path, rated_ghs=args.rated)
    with open_capture(path) as reader:
        shares = reader.dataframe("shares")
    t = shares.loc[shares["outcome"] == "accepted", "t_ns"].to_numpy() if len(shares) else None
    out = Path(args.out)
    write_report(report, out, t)
    h = report["hashrate"]
    hi = "inf" if h["ci"][1] is None else f"{h['ci'][1]:.2f}"
    print(f"effective hashrate {h['ghs']:.2f} GH/s [{h['ci'][0]:.2f}, {hi}] (95 % exact Poisson, "
          f"{h['n_shares']} accepted shares in {report['duration_s']:.1f} s); {report.get('verdict', '')}")
    pc = report["published_case"]
    print(f"published 175 -> 220 GH/s: needs about {pc['expected_shares_at_rated']} shares at the rated rate "
          f"to be significant (alpha {pc['alpha']}, power {pc['power']})")
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}")
    return 0
