"""The machinery check: input-only readouts and the reference ESNs on the reference protocol
of reservoir.md (5 data seeds; 100-step burn-in, 200 washout, 2,000 train of which 400
validate, 1,000 test; NARMA-10; NRMSE = RMSE / std(test target)), with fit+predict times.

    .venv/bin/python bench/reservoir_reference.py [--seeds 5]

Prints mean +- sd over seeds beside reservoir.md's figures; one BLAS thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reservoir.controls import INPUT_ONLY
from reservoir.esn import REFERENCE_PARAMS, esn_states
from reservoir.readout import ChronologicalSplit, fit_ridge_readout, mean_prediction
from reservoir.tasks import narma10

EXPECTED = {"mean": "1.008 +- 0.005", "input_now": "0.878 +- 0.013", "input_linear_10": "0.593 +- 0.020",
            "input_linear_30": "0.383", "input_quadratic_10": "0.518", "input_quadratic_20": "0.167",
            "input_quadratic_30": "0.109", "input_leaky": "0.654", "esn_100": "0.202 +- 0.017",
            "esn_400": "0.132 +- 0.020"}


def _esn(u: np.ndarray, *, units: int, params: object, seed: int) -> np.ndarray:
    return esn_states(u, units, params, seed=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    split = ChronologicalSplit.make(3200)
    scores: dict[str, list[float]] = {}
    times: dict[str, list[float]] = {}
    with threadpool_limits(limits=1):
        for seed in range(args.seeds):
            u, y = narma10(3200, seed=seed)
            scores.setdefault("mean", []).append(mean_prediction(y, split).test_nrmse)
            models = {name: make for name, (_, make) in INPUT_ONLY.items()}
            for units, params in REFERENCE_PARAMS.items():
                models[f"esn_{units}"] = partial(_esn, units=units, params=params, seed=1000 + seed)
            for name, make in models.items():
                started = time.perf_counter()
                score = fit_ridge_readout(make(u), y, split).test_nrmse
                times.setdefault(name, []).append(time.perf_counter() - started)
                scores.setdefault(name, []).append(score)
    print(f"NARMA-10, {args.seeds} data seeds, split {split.as_dict()}, NRMSE = RMSE / std(test target)")
    print(f"{'model':<20}{'NRMSE mean +- sd':>18}   {'reservoir.md':<16}{'features+fit+predict':>22}")
    for name, values in scores.items():
        t = f"{1000 * np.mean(times[name]):.0f} ms" if name in times else "< 1 ms"
        print(f"{name:<20}{np.mean(values):>10.3f} +- {np.std(values, ddof=1):.3f}   "
              f"{EXPECTED.get(name, ''):<16}{t:>22}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
