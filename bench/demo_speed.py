"""Speed of the emulated end-to-end demo (3 seeds x 3,200 steps x 1 s) per device, and
the NRMSE table each configuration produced.

Prints, per device and encoding: wall seconds, the simulated-to-wall speed ratio, the
wall time as a ratio to the reference run (the LV06, the issue's target device) measured
in the same process, the share of the 60 s budget of `hashrc demo`; then each run's
NRMSE (RMSE / std of the test target) with its 95 % interval over the 3 seeds.

    .venv/bin/python bench/demo_speed.py [--steps 3200] [--repeats 1]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from reservoir.experiment import ExperimentConfig, run_experiment

BUDGET_S = 60.0


def measure(device: str, encoding: str, steps: int, out: Path) -> tuple[float, float, dict]:
    started = time.perf_counter()
    report = run_experiment(ExperimentConfig(device=device, encoding=encoding, steps=steps), out)
    wall = time.perf_counter() - started
    return wall, report["sim_seconds"] / wall, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3200)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, steps {args.steps}, 3 seeds")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for encoding in ("frequency", "difficulty"):
            for device in ("lv06", "s9", "lbbox"):
                best = min(
                    (measure(device, encoding, args.steps, Path(tmp) / f"{device}-{encoding}-{r}")
                     for r in range(args.repeats)),
                    key=lambda m: m[0],
                )
                rows.append((device, encoding, *best))
    reference = {enc: wall for dev, enc, wall, _, _ in rows if dev == "lv06"}
    print(f"{'device':<8}{'encoding':<12}{'wall s':>8}{'sim/wall':>10}{'vs lv06':>9}{'budget use':>12}")
    for device, encoding, wall, ratio, _ in rows:
        print(f"{device:<8}{encoding:<12}{wall:>8.1f}{ratio:>9.0f}x{wall / reference[encoding]:>8.2f}x"
              f"{wall / BUDGET_S:>11.0%}")
    print("\nNRMSE = RMSE / std(test target), mean [95 % t-interval] over seeds 0-2")
    shown = ("device", "mean", "input_linear_10", "input_quadratic_30", "device_disconnected", "esn_equal")
    print(f"{'device':<8}{'encoding':<12}" + "".join(f"{n:>24}" for n in shown) + "  computes (NARMA-10)")
    for device, encoding, _, _, report in rows:
        narma = report["results"]["narma10"]
        by = {r["name"]: r for r in narma["rows"]}
        cells = "".join(
            f"{by[n]['nrmse']:>8.3f} [{by[n]['nrmse_ci'][0]:.3f},{by[n]['nrmse_ci'][1]:.3f}]"
            for n in shown
        )
        print(f"{device:<8}{encoding:<12}{cells}  {narma['verdict']['computes']}")


if __name__ == "__main__":
    main()
