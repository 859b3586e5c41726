"""``hashrc hashrate CAPTURE``: effective hashrate with its exact Poisson interval;
``--policy-compare emu://MODEL``: the normal and latency-hiding job policies compared on
the emulator's network model (:mod:`reservoir.job_policy`)."""

from __future__ import annotations

import argparse

HELP = (
    "Effective hashrate of a capture from its accepted shares (sum of difficulties x 2^32 / "
    "duration) with an exact Poisson interval, stale/duplicate/rejected rates with intervals, "
    "the latency budget its timestamps support, and the shares a 175 -> 220 GH/s claim needs; "
    "--policy-compare emu://MODEL runs the normal and latency-hiding pool policies on the "
    "emulator (simulated clock, seeds) and reports stale rate and effective hashrate with "
    "intervals. Writes DIR/report.json, report.md (and rate.png)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", nargs="?", default=None, help="capture file (.sqlite)")
    parser.add_argument("--rated", type=float, default=None,
                        help="rated hashrate in GH/s (default: the capture model's nominal)")
    parser.add_argument("--out", default="runs/hashrate", help="output directory (default runs/hashrate)")
    parser.add_argument("--policy-compare", default=None, metavar="emu://MODEL",
                        help="compare the job policies on this emulated device (simulated clock)")
    parser.add_argument("--seeds", type=int, default=8, help="policy comparison: seeds (default 8)")
    parser.add_argument("--policy-duration", type=float, default=600.0, metavar="S",
                        help="policy comparison: simulated seconds per seed (default 600)")
    parser.add_argument("--lead", type=float, default=3.0, metavar="S",
                        help="latency-hiding: announce the next job this long before the rotation "
                        "(default 3)")
    parser.add_argument("--job-interval", type=float, default=30.0, metavar="S",
                        help="policy comparison: seconds between the pool's jobs (default 30)")
    parser.add_argument("--block-interval", type=float, default=600.0, metavar="S",
                        help="policy comparison: mean seconds between block changes (default 600)")


def _policy_model(url: str) -> str:
    from asic_bridge.models import SPECS

    model = url.split("://", 1)[1].split("?", 1)[0] if url.startswith("emu://") else ""
    if model not in SPECS:
        raise ValueError(
            f"--policy-compare needs emu://MODEL with MODEL one of {sorted(SPECS)}, got {url!r}"
        )
    return model


def run(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from asic_bridge.capture.store import open_capture
    from reservoir.hashrate import analyse_capture, write_report

    if args.capture is None and args.policy_compare is None:
        raise ValueError("give a CAPTURE file, --policy-compare emu://MODEL, or both")
    policy_report = None
    out = Path(args.out)
    if args.policy_compare is not None:
        from reservoir.job_policy import PolicyConfig, compare

        model = _policy_model(args.policy_compare)
        if not 1 <= args.seeds <= 1000:
            raise ValueError(f"--seeds must be 1..1000, got {args.seeds}")
        config = PolicyConfig(
            duration_s=args.policy_duration, job_interval_s=args.job_interval, lead_s=args.lead,
            block_interval_s=args.block_interval, seeds=tuple(range(args.seeds)),
        )  # fmt: skip
        policy_report = compare(model, config)
        policy_report["command"] = (
            f"hashrc hashrate --policy-compare {shlex.quote(args.policy_compare)} --seeds {args.seeds} "
            f"--policy-duration {args.policy_duration:g} --lead {args.lead:g} "
            f"--job-interval {args.job_interval:g} --block-interval {args.block_interval:g}"
        )
    if args.capture is not None:
        path = Path(args.capture)
        if not path.is_file():
            raise FileNotFoundError(f"no capture file {path}")
        if args.rated is not None and not args.rated > 0:
            raise ValueError(f"--rated must be positive GH/s, got {args.rated}")
        report = analyse_capture(path, rated_ghs=args.rated)
        with open_capture(path) as reader:
            shares = reader.dataframe("shares")
        t = shares.loc[shares["outcome"] == "accepted", "t_ns"].to_numpy() if len(shares) else None
        write_report(report, out, t)
        h = report["hashrate"]
        hi = "inf" if h["ci"][1] is None else f"{h['ci'][1]:.2f}"
        print(f"effective hashrate {h['ghs']:.2f} GH/s [{h['ci'][0]:.2f}, {hi}] (95 % exact Poisson, "
              f"{h['n_shares']} accepted shares in {report['duration_s']:.1f} s); "
              f"{report.get('verdict', '')}")
        pc = report["published_case"]
        print(f"published 175 -> 220 GH/s: needs about {pc['expected_shares_at_rated']} shares at the rated "
              f"rate to be significant (alpha {pc['alpha']}, power {pc['power']})")
    if policy_report is not None:
        from reservoir.job_policy import add_to_report, summary_line

        add_to_report(out, policy_report, fresh=args.capture is None)
        for line in summary_line(policy_report):
            print(line)
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}")
    return 0
