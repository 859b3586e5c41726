"""``hashrc puf enrol|verify|evaluate``: device fingerprints with measured error rates."""

from __future__ import annotations

import argparse

HELP = (
    "Device fingerprints: enrol a device's response to a fixed challenge (clock steps; share "
    "rate ratios, per-chip/chain fractions, thermal response, error onset), verify a device "
    "against a profile, or evaluate FAR/FRR/EER with intervals over many emulated serials."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="puf_command", required=True, metavar="ACTION")
    enrol = sub.add_parser("enrol", help="run the challenge several times and write a profile")
    source = enrol.add_mutually_exclusive_group(required=True)
    source.add_argument("--device", help="device URL or emu://MODEL?serial=...")
    source.add_argument("--capture", action="append", help="fingerprint capture(s) to enrol from (repeat)")
    enrol.add_argument("--captures-dir", default=None, help="keep each run's capture in this directory")
    enrol.add_argument("--runs", type=int, default=3, help="runs of the challenge (>= 2, default 3)")
    enrol.add_argument("--hold-s", type=float, default=30.0, help="seconds measured per clock step")
    enrol.add_argument("--profile", required=True, help="profile JSON to write")
    verify = sub.add_parser("verify", help="run the challenge once and compare with a profile")
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument("--device", help="device URL or model")
    target.add_argument("--capture", help="a fingerprint capture to verify instead of running the device")
    verify.add_argument("--profile", required=True, help="profile JSON from enrol")
    verify.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="accept when the RMS z-distance is at most this (default: the profile's)",
    )
    evaluate = sub.add_parser("evaluate", help="FAR/FRR/EER over many emulated serials of a model")
    from asic_bridge.urls import model_choices  # the model table, not literals

    evaluate.add_argument("--model", choices=model_choices(), default="lv06")
    evaluate.add_argument("--serials", type=int, default=6, help="emulated serials (default 6)")
    evaluate.add_argument("--runs", type=int, default=3, help="runs per serial (>= 3, default 3)")
    evaluate.add_argument("--hold-s", type=float, default=30.0, help="seconds measured per clock step")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--out", default="runs/puf", help="output directory (default runs/puf)")


def _run_url(url: str, run: int) -> str:
    """Emulated runs need distinct noise: add ``seed=run`` unless the URL sets a seed."""
    if url.startswith("emu://") and "seed=" not in url:
        return url + ("&" if "?" in url else "?") + f"seed={run}"
    return url


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from asic_bridge.device import open_device
    from reservoir import puf

    if args.puf_command == "evaluate":
        if args.serials < 2 or args.runs < 3:
            raise ValueError("evaluate needs --serials >= 2 and --runs >= 3")
        from asic_bridge.models import SPECS

        challenge = puf.default_challenge(SPECS[args.model], hold_s=args.hold_s)
        report = puf.run_evaluation(
            args.model,
            Path(args.out),
            serials=args.serials,
            runs=args.runs,
            seed=args.seed,
            challenge=challenge,
        )
        c = report["control_same_silicon"]
        print(
            f"{args.model}: EER {report['eer']:.3f} [{report['eer_ci'][0]:.3f}, "
            f"{report['eer_ci'][1]:.3f}] over "
            f"{args.serials} serials x {args.runs} runs (chance 0.5); same-silicon control EER {c['eer']:.3f}"
        )
        print(f"wrote {Path(args.out) / 'report.json'}, {Path(args.out) / 'report.md'}, det.png")
        return 0
    url = None if args.device is None else args.device if "://" in args.device else f"emu://{args.device}"
    if args.puf_command == "enrol":
        responses, names, identity = [], [], {}
        if args.capture:
            challenges = []
            for path in args.capture:
                if not Path(path).is_file():
                    raise FileNotFoundError(f"no capture file {path}")
                x, names, identity, challenge = puf.response_from_capture(path)
                responses.append(x)
                challenges.append(challenge)
            if len(set(challenges)) > 1:
                raise ValueError("the captures answer different challenges; enrol from one challenge")
        else:
            if args.runs < 2:
                raise ValueError("--runs must be at least 2 (the within-device spread needs repeats)")
            with open_device(url) as device:
                challenge = puf.default_challenge(device.spec, hold_s=args.hold_s)
            keep = Path(args.captures_dir) if args.captures_dir else None
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
            for r in range(args.runs):
                cap = None if keep is None else keep / f"run{r}.sqlite"
                x, names, identity = puf.respond(_run_url(url, r), challenge, cap)
                responses.append(x)
        profile = puf.enrol(responses, names, identity, challenge)
        Path(args.profile).write_text(profile.to_json())
        print(
            f"enrolled {identity['model']} serial {identity['serial']} from {len(responses)} runs, "
            f"{len(names)} features; wrote {args.profile}"
        )
        return 0
    path = Path(args.profile)
    if not path.is_file():
        raise FileNotFoundError(f"no profile {path}; run `hashrc puf enrol` first")
    profile = puf.Profile.from_json(path.read_text())
    if args.threshold is not None:
        profile = replace(profile, threshold=args.threshold)
    if args.capture:
        if not Path(args.capture).is_file():
            raise FileNotFoundError(f"no capture file {args.capture}")
        x, names, identity, challenge = puf.response_from_capture(args.capture)
        if challenge != profile.challenge:
            raise ValueError("the capture answers another challenge than the profile's")
    else:
        x, names, identity = puf.respond(_run_url(url, 10_000), profile.challenge)
    if names != profile.names:
        raise ValueError("the device's response has other features than the profile (another model?)")
    import numpy as np

    dist = puf.score(np.array(profile.mean), np.array(profile.spread), x)
    accepted = dist <= profile.threshold
    print(
        f"{'ACCEPT' if accepted else 'REJECT'}: RMS z-distance {dist:.3f} vs threshold "
        f"{profile.threshold:.3f} "
        f"(profile {profile.model} serial {profile.serial}; device reports serial {identity['serial']})"
    )
    return 0 if accepted else 1
