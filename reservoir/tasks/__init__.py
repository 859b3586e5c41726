"""Benchmark tasks as pure functions of their parameters and the input u.

Every task here is computed from the same i.i.d. uniform input (u in [0, 0.5]), so one
device run is scored on all of them. :data:`TASKS` names each with its target function
and how it is scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reservoir.tasks.memory import delayed_inputs, delayed_parity, squared_correlations
from reservoir.tasks.narma import (
    narma10,
    narma10_response,
    narma20_response,
    narma_response,
    uniform_input,
)

MC_MAX_DELAY = 40


@dataclass(frozen=True, slots=True)
class Task:
    """A task on the shared input: ``targets(u)`` is (n,) for a prediction task scored by
    NRMSE (lower is better) or (n, delays) for memory capacity (higher is better)."""

    name: str
    description: str
    targets: Callable[[np.ndarray], np.ndarray]
    score: str  # "nrmse" or "memory_capacity"

    @property
    def lower_is_better(self) -> bool:
        return self.score == "nrmse"


def _mc_targets(u: np.ndarray) -> np.ndarray:
    return delayed_inputs(u, MC_MAX_DELAY)


TASKS: dict[str, Task] = {
    "narma10": Task("narma10", "NARMA-10 (standard form): predict y(t+1)", narma10_response, "nrmse"),
    "narma20": Task("narma20", "NARMA-20 (tanh-bounded): predict y(t+1)", narma20_response, "nrmse"),
    "mc": Task("mc", f"memory capacity: sum over delays 0..{MC_MAX_DELAY} of squared correlation "
               "of recalled u(t-k) with u(t-k) on test", _mc_targets, "memory_capacity"),
    "xor": Task("xor", "delayed XOR: b(t-1) xor b(t-2), b = [u >= 0.25]", delayed_parity, "nrmse"),
}


def task_for(name: str) -> Task:
    """The task called ``name``; a clear error listing the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {sorted(TASKS)}") from None


__all__ = [
    "TASKS",
    "Task",
    "delayed_inputs",
    "delayed_parity",
    "narma10",
    "narma10_response",
    "narma20_response",
    "narma_response",
    "squared_correlations",
    "task_for",
    "uniform_input",
]
