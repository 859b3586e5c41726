"""Contracts of the feature side (H5's code) that the analysis relies on: set-point echoes
are excluded unless asked for, by default everywhere."""

import inspect

import numpy as np

from asic_bridge.models import KNOB_ECHOES
from reservoir.experiment import ExperimentConfig
from reservoir.features import features_from_capture, telemetry_features


def test_echoes_are_excluded_by_default() -> None:
    assert inspect.signature(features_from_capture).parameters["include_echoes"].default is False
    assert inspect.signature(telemetry_features).parameters["include_echoes"].default is False
    assert ExperimentConfig().include_echoes is False


def test_echo_quantities_never_become_features_by_default() -> None:
    t = np.array([5, 15, 25], dtype=np.int64)
    echo = sorted(KNOB_ECHOES)[0]
    names, _ = telemetry_features(
        np.concatenate([t, t]), np.array([echo] * 3 + ["temperature_c"] * 3),
        np.arange(6, dtype=float), np.array([0, 10, 20]), np.array([10, 20, 30]),
    )
    assert names == ["temperature_c"]
