"""emulator: a physically plausible software twin of each supported miner.

A physics model (:mod:`emulator.physics`) of clock, voltage, power, leakage, heat, fan
and timing errors, with per-serial process variation, drives a share process and the
telemetry a host would see. :class:`emulator.device.EmulatedDevice` puts it behind the
same :class:`asic_bridge.device.Device` interface as real hardware, on a simulated
clock. The model is never tuned to make an experiment look good: its parameters come
from datasheets, firmware defaults and physics, documented in
:mod:`emulator.profiles`.
"""

EMULATOR_VERSION = "hashrc-emulator 0.1"
