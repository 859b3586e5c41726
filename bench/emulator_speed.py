"""Simulated-to-wall speed of the in-process emulator alone (no analysis), per model.

Each run drives one EmulatedDevice as the demo's frequency encoding does: a clock knob per
1 s step, events drained every step, for ``--steps`` simulated seconds at the default
physics step (0.1 s) and share rate (about one share per second). Prints the speed
(simulated s / wall s, and per CPU second of this process, which the other work on a
shared machine disturbs less) and each model's wall time as a ratio to the LV06's (the
reference, measured in the same process), best of ``--repeats``.

    .venv/bin/python bench/emulator_speed.py [--steps 3200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from emulator.device import EmulatedDevice


def run(model: str, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds of this process for ``steps`` simulated seconds of ``model``."""
    dev = EmulatedDevice(model, seed=0, warm_up_s=0)
    low, high = dev.spec.frequency_range_mhz
    clocks = np.random.default_rng(0).uniform(low, high, steps)
    started, cpu_started = time.perf_counter(), time.process_time()
    for mhz in clocks:
        dev.set_knob("frequency", float(mhz), "MHz")
        dev.clock.sleep(1.0)
        for _ in dev.events():
            pass
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {args.steps} simulated s "
          f"per run, best of {args.repeats}")
    best = {m: min(run(m, args.steps) for _ in range(args.repeats)) for m in ("lv06", "s9", "lbbox")}
    print(f"{'model':<8}{'wall s':>8}{'sim/wall':>10}{'CPU s':>8}{'sim/CPU':>10}{'vs lv06':>9}")
    for model, (wall, cpu) in best.items():
        print(f"{model:<8}{wall:>8.2f}{args.steps / wall:>9.0f}x{cpu:>8.2f}{args.steps / cpu:>9.0f}x"
              f"{wall / best['lv06'][0]:>8.2f}x")


if __name__ == "__main__":
    main()
