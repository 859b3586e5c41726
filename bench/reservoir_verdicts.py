"""Verdict table on the emulated devices: every encoder and both presets, seeds x serials.

    .venv/bin/python bench/reservoir_verdicts.py [--devices lv06,s9,lbbox] [--steps 1600]
        [--seeds 5] [--serials 2] [--out runs/reservoir-verdicts]

Each (device, preset, encoder) is one evaluation: seeds x serials connected runs plus one
input-disconnected run each, driven through the emulator and read back from captures;
reports under OUT/<device>-<preset>-<encoder>/. Prints one line per task: device score
with its 95 % t-interval over runs, the best input-only control, the paired margin to it
(device - control, t-interval) and the verdict. Wall times are per device run and per
evaluation on this (shared, 2-core) machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reservoir.emulated_runs import emulated_runs, serials_for
from reservoir.esn import EsnGrid
from reservoir.evaluation import evaluate
from reservoir.protocol import preset
from reservoir.report import write_report

BENCH_GRID = EsnGrid((0.5, 0.9), (0.02, 0.2, 2.0), (0.5, 1.0), (0.3,))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="lv06,s9,lbbox")
    parser.add_argument("--encodings", default="difficulty,frequency,voltage,tm-frequency")
    parser.add_argument("--presets", default="recommended,published")
    parser.add_argument("--steps", type=int, default=1600, help="steps of the recommended preset")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--serials", type=int, default=2)
    parser.add_argument("--sub-steps", type=int, default=4, help="virtual nodes of tm- encoders")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default="runs/reservoir-verdicts")
    args = parser.parse_args()
    out = Path(args.out)
    table = []
    print(f"seeds {args.seeds} x serials {args.serials}; recommended steps {args.steps}; ESN grid "
          f"{len(BENCH_GRID.points())} points; NRMSE = RMSE / std(test target)", flush=True)
    for device in args.devices.split(","):
        for name in args.presets.split(","):
            encodings = ["difficulty"] if name == "published" else args.encodings.split(",")
            for encoding in encodings:
                base = preset(name)
                proto = base.with_(encoding=encoding, n_seeds=args.seeds, n_serials=args.serials,
                                   esn_grid=BENCH_GRID,
                                   sub_steps=args.sub_steps if encoding.startswith("tm-") else 1)
                if name == "recommended":
                    proto = proto.with_(steps=args.steps, washout=200)
                tag = f"{device}-{name}-{encoding}"
                started = time.perf_counter()
                runs = emulated_runs(device, proto, out / tag / "captures",
                                     serials=serials_for(device, args.serials), n_jobs=args.jobs)
                drive_s = time.perf_counter() - started
                started = time.perf_counter()
                report = evaluate(runs, protocol=proto, tasks=proto.tasks, n_jobs=args.jobs)
                eval_s = time.perf_counter() - started
                write_report(report, out / tag)
                for task, rep in report["results"].items():
                    key = rep["score"]
                    dev = next(r for r in rep["rows"] if r["name"] == "device")
                    margin = rep["margins"]["best_input_only"]
                    best = next(r for r in rep["rows"] if r["name"] == margin["name"])
                    row = {
                        "device": device, "preset": name, "encoder": encoding, "task": task,
                        "score": key, "device_score": dev[key], "device_ci": dev[f"{key}_ci"],
                        "best_input_only": margin["name"], "best_input_score": best[key],
                        "margin": margin.get("mean"), "margin_ci": margin.get("ci"),
                        "computes": rep["verdict"]["computes"],
                        "n_features": report["n_features"],
                        "drive_s_per_run": drive_s / len(runs), "evaluate_s": eval_s,
                    }
                    if "range_normalised" in rep:
                        rn = {r["name"]: r["nrmse_range"] for r in rep["range_normalised"]["rows"]}
                        row["device_range_nrmse"] = rn.get("device")
                    table.append(row)
                    ci = dev[f"{key}_ci"]
                    mci = margin.get("ci") or [float("nan")] * 2
                    print(f"{device:6} {name:11} {encoding:13} {task:8} {key:5} device {dev[key]:.3f} "
                          f"[{ci[0]:.3f}, {ci[1]:.3f}]  best input-only {margin['name']} {best[key]:.3f}  "
                          f"margin {margin.get('mean', float('nan')):+.3f} [{mci[0]:+.3f}, {mci[1]:+.3f}]  "
                          f"{'COMPUTES' if row['computes'] else 'not computing'}"
                          + (f"  (range-normalised device {row['device_range_nrmse']:.3f})"
                             if "device_range_nrmse" in row else ""), flush=True)
                print(f"   {tag}: {len(runs)} runs, {report['n_features']} features, drive "
                      f"{drive_s / len(runs):.1f} s/run, evaluate {eval_s:.0f} s", flush=True)
                (out / "table.json").write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
