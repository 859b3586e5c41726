"""Sensitivity of the device NRMSE and the verdict to the share rate per step and to the
hold time relative to the telemetry period (emulated LV06, published difficulty encoding).

    .venv/bin/python bench/reservoir_sensitivity.py [--device lv06] [--steps 700] [--seeds 3]
        [--serials 2] [--out runs/reservoir-sensitivity]

Share rate per step r (mean accepted shares per step): the difficulty encoding
D = d0 / (u + 0.05) has mean rate H h E[u + 0.05] / (d0 2^32) shares per step (H the
nominal hashrate in H/s, h the hold in s), so d0 = H h 0.3 / (r 2^32). The hold sweep keeps
the published d0 = 25, so the share rate grows with the hold. NARMA-10 and memory
capacity from the same runs; each row: device NRMSE [95 % t-interval over runs], the best
input-only control, the paired margin, the verdict.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asic_bridge.models import spec_for
from reservoir.emulated_runs import emulated_runs, serials_for
from reservoir.esn import EsnGrid
from reservoir.evaluation import evaluate
from reservoir.protocol import preset

GRID = EsnGrid((0.5, 0.9), (0.02, 2.0), (1.0,), (0.3,))


def _line(label: str, report: dict) -> dict:
    rep = report["results"]["narma10"]
    dev = next(r for r in rep["rows"] if r["name"] == "device")
    margin = rep["margins"]["best_input_only"]
    mc = next(r for r in report["results"]["mc"]["rows"] if r["name"] == "device")
    row = {"setting": label, "nrmse": dev["nrmse"], "nrmse_ci": dev["nrmse_ci"],
           "best_input_only": margin["name"], "margin": margin["mean"], "margin_ci": margin["ci"],
           "computes": rep["verdict"]["computes"], "mc": mc["mc"],
           "mc_memory": report["results"]["mc"]["verdict"]["computes"]}
    print(f"{label:34} NRMSE {dev['nrmse']:.3f} [{dev['nrmse_ci'][0]:.3f}, {dev['nrmse_ci'][1]:.3f}]  "
          f"margin to {margin['name']} {margin['mean']:+.3f}  "
          f"{'COMPUTES' if row['computes'] else 'not computing'}  MC {mc['mc']:.2f}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="lv06")
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--serials", type=int, default=2)
    parser.add_argument("--rates", default="1,4,16,64")
    parser.add_argument("--holds", default="0.25,0.5,1,2,4", help="hold / telemetry period")
    parser.add_argument("--out", default="runs/reservoir-sensitivity")
    args = parser.parse_args()
    from emulator.profiles import profile_for

    spec = spec_for(args.device)
    period = profile_for(args.device).telemetry_period_s
    hashrate = spec.nominal_hashrate_ghs * 1e9
    base = preset("published").with_(steps=args.steps, washout=100, esn_grid=GRID, reference_esn_units=(),
                                     feature_names=None, tasks=("narma10", "mc"))
    serials = serials_for(args.device, args.serials)
    seeds = list(range(args.seeds))
    out = Path(args.out)
    print(f"{args.device}: telemetry period {period:g} s; {args.seeds} seeds x {args.serials} serials x "
          f"{args.steps} steps; all features; NRMSE = RMSE / std(test target)", flush=True)
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        d0 = hashrate * 1.0 * 0.3 / (rate * 2**32)
        proto = base.with_(hold_s=1.0, difficulty_d0=d0)
        runs = emulated_runs(args.device, proto, out / f"rate{rate:g}", seeds=seeds, serials=serials)
        report = evaluate(runs, protocol=proto, tasks=proto.tasks)
        rows.append(_line(f"{rate:g} shares/step (d0 {d0:.3g}, hold 1 s)", report))
    for ratio in (float(r) for r in args.holds.split(",")):
        hold = ratio * period
        proto = base.with_(hold_s=hold)
        runs = emulated_runs(args.device, proto, out / f"hold{ratio:g}", seeds=seeds, serials=serials)
        report = evaluate(runs, protocol=proto, tasks=proto.tasks)
        rate = hashrate * hold * 0.3 / (25.0 * 2**32)
        rows.append(_line(f"hold {hold:g} s = {ratio:g} x telemetry ({rate:.2g} sh/step)", report))
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensitivity.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
