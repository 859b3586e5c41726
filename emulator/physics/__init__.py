"""The physics model of a miner: power, heat, fan, timing errors, process variation.

All functions work on numpy arrays with one entry per chip. Units are in the names:
MHz, mV, W, degC, K, J/K, W/K, seconds.
"""

from emulator.physics.model import DevicePhysics, PhysicsState

__all__ = ["DevicePhysics", "PhysicsState"]
