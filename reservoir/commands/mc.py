"""``hashrc mc``: memory capacity of a device beside its controls, with paired statistics."""

from __future__ import annotations

import argparse

HELP = (
    "Memory capacity (sum over delays 0..40 of the squared correlation of a recalled u(t-k) "
    "with u(t-k), on held-out data) of captures, or of an emulated device driven over seeds x "
    "serials with its input-disconnected twin; beside u(t) alone, u(t) plus leaky integrators, "
    "the shifted, other-run and disconnected controls and a tuned ESN of the same size. Writes "
    "DIR/report.json, DIR/report.md and plots."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("captures", nargs="*", help="capture files or directories of captures made by "
                        "an experiment (their metadata holds input_u); none: drive --device")
    parser.add_argument("--device", choices=["lv06", "s9", "lbbox"], default="lv06",
                        help="emulated model to drive when no capture is given (default lv06)")
    parser.add_argument("--protocol", choices=["recommended", "published"], default="recommended")
    parser.add_argument("--encoding", default=None, help="encoder (default: the protocol's): "
                        "frequency, voltage, difficulty, tm-frequency, tm-voltage, tm-difficulty")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: the protocol's)")
    parser.add_argument("--seeds", type=int, default=None, help="data seeds (default: the protocol's, 5)")
    parser.add_argument("--serials", type=int, default=None, help="device serials (default: the protocol's)")
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes (joblib; -1 = all)")
    parser.add_argument("--dask", default=None, metavar="tcp://HOST:PORT",
                        help="score on this dask.distributed scheduler instead of locally")
    parser.add_argument("--out", default="runs/mc", help="output directory (default runs/mc)")


def _captures(paths: list[str]) -> list:
    from pathlib import Path

    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.sqlite"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist: give capture files or directories")
    if not files:
        raise ValueError(f"no .sqlite capture under {', '.join(paths)}")
    return files


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from reservoir.protocol import preset

    proto = preset(args.protocol)
    changes = {k: v for k, v in (("steps", args.steps), ("n_seeds", args.seeds),
                                 ("n_serials", args.serials), ("encoding", args.encoding)) if v is not None}
    if args.encoding and args.encoding.startswith("tm-"):
        changes["sub_steps"] = 8
    proto = proto.with_(**changes)
    if proto.steps <= proto.washout + 60:
        raise ValueError(f"--steps {proto.steps} leaves too little after the {proto.washout}-step washout")
    if args.dask is not None and not args.dask.startswith("tcp://"):
        raise ValueError(f"--dask takes tcp://HOST:PORT, got {args.dask!r}")
    out = Path(args.out)
    from reservoir.evaluation import evaluate, run_data_from_capture
    from reservoir.report import write_report

    if args.captures:
        files = _captures(args.captures)
        print(f"memory capacity of {len(files)} captures, protocol {proto.name}", flush=True)
        runs = [run_data_from_capture(f, out) for f in files]
    else:
        from reservoir.emulated_runs import emulated_runs

        print(f"memory capacity of emulated {args.device}: {proto.n_seeds} seeds x {proto.n_serials} "
              f"serials x {proto.steps} steps of {proto.hold_s:g} s, {proto.encoding} encoding, each run "
              f"with its input-disconnected twin; captures under {out / 'captures'}", flush=True)
        runs = emulated_runs(args.device, proto, out / "captures", n_jobs=args.jobs,
                             progress=sys.stderr.isatty())
    report = evaluate(runs, protocol=proto, tasks=("mc",), n_jobs=args.jobs, dask_address=args.dask,
                      progress=sys.stderr.isatty())
    write_report(report, out)
    rep = report["results"]["mc"]
    print(f"MC = sum over delays 0..40 of squared correlation on test; {report['interval']}")
    for row in rep["rows"]:
        ci = row["mc_ci"]
        diff = row.get("paired_difference")
        extra = (f"  device - it {diff['mean']:+.2f}, p (Holm) {row['p_holm']:.2g}"
                 if diff and "p_holm" in row else "")
        print(f"{row['name']:<26}{row['mc']:>7.2f}  [{ci[0]:.2f}, {ci[1]:.2f}]{extra}" if ci else
              f"{row['name']:<26}{row['mc']:>7.2f}")
    verdict = rep["verdict"]
    print(("memory beyond u(t) and its leaky integrators: YES" if verdict["computes"] else
           "memory beyond u(t) and its leaky integrators: NO") + f" (rule: {verdict['rule']})")
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0
