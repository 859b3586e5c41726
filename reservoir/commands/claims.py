"""``hashrc claims``: every published claim, measured, in one table."""

from __future__ import annotations

import argparse

HELP = (
    "Run the measurement behind every published claim (NARMA-10 with the published encoding, "
    "the early-abort filter, hashrate, timing sweeps, fingerprints, the theorems' finite-sample "
    "counterparts) on each device and write DIR/claims.md and claims.json: published figure, "
    "measured figure with interval and control, verdict, link to the full report."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        action="append",
        default=None,
        metavar="URL|MODEL",
        help="device URL or model (repeatable; default: emulated lv06, s9, lbbox)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: minutes on 2 cores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from reservoir.claims import ClaimsConfig, run_claims

    devices = args.device or ["lv06", "s9", "lbbox"]
    out = Path(args.out)
    result = run_claims(
        devices,
        out,
        ClaimsConfig(quick=args.quick, seed=args.seed),
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    for row in result["rows"]:
        print(
            f"{row['claim']:<14}{row['device']:<24}{row['measured']}  {row['interval']}\n"
            f"{'':<38}-> {row['verdict']}"
        )
    print(f"wrote {out / 'claims.md'} and {out / 'claims.json'} ({result['wall_seconds']:.0f} s)")
    return 0
