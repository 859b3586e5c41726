"""The telemetry schema: every quantity a device may report, with one unit and one index.

A :class:`~asic_bridge.events.TelemetryEvent` names a quantity of :data:`SCHEMA`, carries
its value in the quantity's unit, and says in ``index`` which one of several it is. What
the index counts is fixed per quantity (:attr:`Quantity.index`):

* ``None``: one value for the device (``index`` must be None);
* ``"chip"``: the chip, 0-based in chain order (``chip_temp``);
* ``"chain"``: the hash board, 0-based in the order the firmware lists its chains (the
  S9's slots 6, 7, 8 become 0, 1, 2);
* ``"fan"``: the fan, 0-based in the order the firmware lists them.

The same quantity has the same name, unit and index whichever path it came by: the
in-process emulator (:mod:`emulator.telemetry`), an emulator face read by an API client
(:mod:`asic_bridge.api`), or hardware. Naming rules:

* a name says what is measured, not where it came from (``board_temp``, not ``temp6``);
* a statistic over parts gets a suffix (``chip_temp_max`` is the hottest chip of a chain,
  ``hashrate_avg`` the average since start); a device total and its per-chain parts never
  share a name: the parts carry a ``chain_`` prefix (``hashrate`` and ``chain_hashrate``);
* firmware aggregates that can be recomputed from the parts (the hottest board of a
  device) are not reported separately: one fact, one row;
* set-point echoes (the firmware restating a knob) name the knob they echo in
  :attr:`Quantity.echo_of`; :data:`asic_bridge.models.KNOB_ECHOES` lists them so that
  analysis never mistakes a copy of the input for a response.

``docs/telemetry.md`` holds this table as Markdown (:func:`markdown_table`); a test keeps
the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asic_bridge.errors import ProtocolError

IndexKind = Literal["chip", "chain", "fan"] | None
INDEX_KINDS: tuple[IndexKind, ...] = (None, "chip", "chain", "fan")


@dataclass(frozen=True, slots=True)
class Quantity:
    """One telemetry quantity: its ``name``, ``unit``, what ``index`` counts, what it
    means, the knob it restates (``echo_of``) if it is a set-point echo, and whether it is
    ``cumulative`` (never falls between firmware restarts: counters, uptime, best share;
    analysis uses its increase per step, not its level)."""

    name: str
    unit: str
    index: IndexKind
    meaning: str
    echo_of: str | None = None
    cumulative: bool = False


_QUANTITIES: tuple[Quantity, ...] = (
    # -- device totals ---------------------------------------------------------------
    Quantity("hashrate", "GH/s", None,
             "short-window hashrate the firmware reports (AxeOS hashRate, cgminer GHS 5s, "
             "Goldshell sum of its boards)"),
    Quantity("hashrate_avg", "GH/s", None, "average hashrate since the firmware started"),
    Quantity("power", "W", None, "input power as the firmware reports it"),
    Quantity("input_voltage", "mV", None, "supply (input) voltage"),
    Quantity("input_current", "mA", None, "supply (input) current"),
    Quantity("core_voltage", "mV", None, "core-voltage set point", echo_of="core_voltage"),
    Quantity("core_voltage_actual", "mV", None, "measured core voltage"),
    Quantity("frequency", "MHz", None, "chip clock set point the firmware runs",
             echo_of="frequency"),
    Quantity("fan_duty", "%", None,
             "fan PWM duty the firmware drives (its automatic controller or the fan knob)",
             echo_of="fan"),
    Quantity("vr_temp", "degC", None, "voltage-regulator temperature"),
    Quantity("chip_temp_avg", "degC", None,
             "mean chip temperature of a board with several chips that reports no "
             "per-chip value (AxeOS temp with asicCount > 1)"),
    Quantity("shares_accepted", "1", None, "shares the pool accepted (firmware counter)", cumulative=True),
    Quantity("shares_rejected", "1", None, "shares the pool rejected (firmware counter)", cumulative=True),
    Quantity("hw_errors", "1", None, "hardware errors (firmware counter)", cumulative=True),
    Quantity("best_diff", "1", None, "best share difficulty the firmware has seen", cumulative=True),
    Quantity("uptime", "s", None, "time since the firmware (re)started", cumulative=True),
    Quantity("overheat_mode", "1", None, "1 while the firmware's overheat protection holds"),
    # -- per chip --------------------------------------------------------------------
    Quantity("chip_temp", "degC", "chip", "temperature of one chip"),
    # -- per chain (hash board) ----------------------------------------------------------
    Quantity("board_temp", "degC", "chain", "hash-board (PCB) temperature"),
    Quantity("chip_temp_max", "degC", "chain", "temperature of the hottest chip of a chain"),
    Quantity("chain_hashrate", "GH/s", "chain", "short-window hashrate of a chain"),
    Quantity("chain_hw_errors", "1", "chain", "hardware errors of a chain (counter)", cumulative=True),
    Quantity("chain_frequency", "MHz", "chain", "mean chip clock of a chain",
             echo_of="frequency"),
    Quantity("chain_chips", "1", "chain", "chips the chain answered with"),
    Quantity("chain_power", "W", "chain", "power of a chain as the firmware reports it"),
    # -- per fan ----------------------------------------------------------------------
    Quantity("fan_rpm", "rpm", "fan", "fan speed"),
)

SCHEMA: dict[str, Quantity] = {q.name: q for q in _QUANTITIES}
"""Every telemetry quantity by name."""

ECHOES: frozenset[str] = frozenset(q.name for q in _QUANTITIES if q.echo_of)
"""Quantities that restate a knob's set point (all must be in ``KNOB_ECHOES``)."""


def is_cumulative(name: str) -> bool:
    """True for a quantity that never falls between restarts (False if not in the schema)."""
    q = SCHEMA.get(name)
    return q is not None and q.cumulative


def quantity(name: str) -> Quantity:
    """The schema entry of ``name``; :class:`ProtocolError` if the schema has none."""
    try:
        return SCHEMA[name]
    except KeyError:
        raise ProtocolError(f"unknown telemetry quantity {name!r}; known: {sorted(SCHEMA)}"
                            ) from None


def unit_of(name: str) -> str:
    """The unit of a quantity."""
    return quantity(name).unit


def check(name: str, unit: str, index: int | None) -> None:
    """Raise :class:`ProtocolError` unless (``name``, ``unit``, ``index``) fits the schema:
    a known quantity in its unit, with an index exactly when its index kind has one."""
    q = quantity(name)
    if unit != q.unit:
        raise ProtocolError(f"{name} is in {q.unit!r}, got {unit!r}")
    if (q.index is None) != (index is None):
        want = "no index" if q.index is None else f"a {q.index} index"
        raise ProtocolError(f"{name} takes {want}, got index={index!r}")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                              or index < 0):
        raise ProtocolError(f"{name}: index must be an int >= 0, got {index!r}")


def markdown_table() -> str:
    """The schema as the Markdown table in ``docs/telemetry.md``."""
    lines = ["| quantity | unit | index | meaning | echo of knob | cumulative |",
             "|---|---|---|---|---|---|"]
    for q in _QUANTITIES:
        lines.append(f"| `{q.name}` | {q.unit} | {q.index or '-'} | {q.meaning} | "
                     f"{q.echo_of or '-'} | {'yes' if q.cumulative else '-'} |")
    return "\n".join(lines) + "\n"
