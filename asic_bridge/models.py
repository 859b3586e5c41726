"""Device models: what each supported miner is and its safe operating envelope.

The envelope is enforced by the bridge for every device, real or emulated: a clock or
voltage command outside it is refused (:class:`EnvelopeError`) unless the caller passes
an explicit override; encoders that map an input to a knob clamp into it instead.

Numbers and where they come from:

* **LV06** (Lucky Miner LV06): one Bitmain BM1366, ESP-Miner defaults 485 MHz and
  1200 mV, 894 small cores (112 cores x 8, ESP-Miner's ``small_core_count``). Expected
  hashrate = MHz x small cores x chips / 1000 GH/s = 433.6 GH/s. The envelope is the
  range AxeOS offers for the BM1366: 400-575 MHz and 1100-1300 mV. Power about 13 W at
  the defaults (Lucky Miner's rating of the LV06: 500 GH/s, 13 W).
* **S9** (Antminer S9): 3 hash boards (chains) x 63 BM1387 = 189 chips, 114 cores each,
  stock 650 MHz: 650 x 114 x 189 / 1000 = 14,005 GH/s, about 1.3 kW at the wall
  (Bitmain's rating: 14 TH/s, 1,323 W). The voltage knob is the chain (board) supply in
  mV, stock about 8,800 mV for 21 series voltage domains of 3 chips each (about 420 mV
  per chip). Envelope: 400-750 MHz (bmminer's usual frequency table around stock) and
  8,400-9,400 mV.
* **LB-Box** (Goldshell LB-Box): LBRY proof of work, rated 175 GH/s at 160 W (Goldshell's
  specification). Goldshell publishes neither the chip, its core count nor its clock; the
  model assumes 4 chips at a 500 MHz nominal clock with the core count that yields the
  rated hashrate, and the envelope 400-600 MHz / 700-800 mV. These are assumptions, not
  facts, and are labelled so wherever they are used.
"""

from __future__ import annotations

from dataclasses import dataclass

from asic_bridge.errors import EnvelopeError, UnknownKnobError


@dataclass(frozen=True, slots=True)
class Knob:
    """A control input of a device: its name and the unit its values are given in."""

    name: str
    unit: str


FREQUENCY = Knob("frequency", "MHz")
CORE_VOLTAGE = Knob("core_voltage", "mV")
DIFFICULTY = Knob("difficulty", "1")
FAN = Knob("fan", "%")
KNOBS: dict[str, Knob] = {k.name: k for k in (FREQUENCY, CORE_VOLTAGE, DIFFICULTY, FAN)}

KNOB_ECHOES = frozenset({"frequency", "chain_frequency", "core_voltage", "difficulty", "fan_duty"})
"""Telemetry quantities that restate a knob's set point (firmware reports them) rather
than measure a response: analysis treats them as a copy of the input."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What a device model is, with its defaults and its safe envelope.

    Frequencies in MHz, voltages in mV, hashrate in GH/s, power in W.
    """

    model: str
    algorithm: str  # "sha256d" or "lbry"
    chip: str
    chains: int
    chips_per_chain: int
    small_cores_per_chip: int
    default_frequency_mhz: float
    default_core_mv: float
    frequency_range_mhz: tuple[float, float]
    core_voltage_range_mv: tuple[float, float]
    nominal_power_w: float
    difficulty_range: tuple[float, float] = (1e-6, 1e12)
    assumed: tuple[str, ...] = ()  # fields that are assumptions rather than published facts

    @property
    def chip_count(self) -> int:
        return self.chains * self.chips_per_chain

    @property
    def nominal_hashrate_ghs(self) -> float:
        """Expected hashrate at the default clock: MHz x small cores x chips / 1000."""
        return self.default_frequency_mhz * self.small_cores_per_chip * self.chip_count / 1000.0

    def knob_range(self, knob: str) -> tuple[float, float]:
        """The safe range of a knob, in its unit."""
        if knob == FREQUENCY.name:
            return self.frequency_range_mhz
        if knob == CORE_VOLTAGE.name:
            return self.core_voltage_range_mv
        if knob == DIFFICULTY.name:
            return self.difficulty_range
        if knob == FAN.name:
            return (0.0, 100.0)
        raise UnknownKnobError(f"{self.model} has no knob {knob!r}; knobs: {sorted(KNOBS)}")

    def check(self, knob: str, value: float, unit: str, *, override: bool = False) -> float:
        """Validate a command: the unit must be the knob's, the value inside the envelope.

        Returns the value as a float. Raises :class:`UnknownKnobError` for a wrong knob or
        unit and :class:`EnvelopeError` for a value outside the safe range, unless
        ``override`` is true (the user's explicit choice; then only finiteness is checked).
        """
        spec_knob = KNOBS.get(knob)
        if spec_knob is None:
            raise UnknownKnobError(f"unknown knob {knob!r}; knobs: {sorted(KNOBS)}")
        if unit != spec_knob.unit:
            raise UnknownKnobError(f"knob {knob!r} takes {spec_knob.unit!r}, got {unit!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise EnvelopeError(f"{knob} must be finite, got {value}")
        low, high = self.knob_range(knob)
        if not override and not (low <= value <= high):
            raise EnvelopeError(
                f"{self.model}: {knob} {value:g} {unit} is outside the safe envelope "
                f"[{low:g}, {high:g}] {unit}; pass override=True to force it"
            )
        return value

    def clamp(self, knob: str, value: float) -> float:
        """Clamp a value into the knob's safe range (for encoders)."""
        low, high = self.knob_range(knob)
        return min(max(float(value), low), high)


LV06 = DeviceSpec(
    model="lv06",
    algorithm="sha256d",
    chip="BM1366",
    chains=1,
    chips_per_chain=1,
    small_cores_per_chip=894,
    default_frequency_mhz=485.0,
    default_core_mv=1200.0,
    frequency_range_mhz=(400.0, 575.0),
    core_voltage_range_mv=(1100.0, 1300.0),
    nominal_power_w=13.0,
)

S9 = DeviceSpec(
    model="s9",
    algorithm="sha256d",
    chip="BM1387",
    chains=3,
    chips_per_chain=63,
    small_cores_per_chip=114,
    default_frequency_mhz=650.0,
    default_core_mv=8800.0,
    frequency_range_mhz=(400.0, 750.0),
    core_voltage_range_mv=(8400.0, 9400.0),
    nominal_power_w=1323.0,
)

# 175 GH/s / (4 chips x 0.5 GHz) = 87.5 hashes per clock per chip.
LBBOX = DeviceSpec(
    model="lbbox",
    algorithm="lbry",
    chip="Goldshell LB (undisclosed)",
    chains=1,
    chips_per_chain=4,
    small_cores_per_chip=88,  # rounded: 500 x 88 x 4 / 1000 = 176 GH/s
    default_frequency_mhz=500.0,
    default_core_mv=750.0,
    frequency_range_mhz=(400.0, 600.0),
    core_voltage_range_mv=(700.0, 800.0),
    nominal_power_w=160.0,
    assumed=("chip", "chips_per_chain", "small_cores_per_chip", "default_frequency_mhz",
             "default_core_mv", "frequency_range_mhz", "core_voltage_range_mv"),
)

SPECS: dict[str, DeviceSpec] = {s.model: s for s in (LV06, S9, LBBOX)}


def spec_for(model: str) -> DeviceSpec:
    """The spec of a model by name (``lv06``, ``s9``, ``lbbox``)."""
    try:
        return SPECS[model.lower()]
    except KeyError:
        raise ValueError(f"unknown device model {model!r}; known: {sorted(SPECS)}") from None
