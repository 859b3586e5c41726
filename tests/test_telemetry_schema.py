"""One telemetry schema: the same (quantity, unit, index) set from ``emu://MODEL`` in
process and through the model's live face read by its API client, every quantity in the
schema with its unit, and docs/telemetry.md generated from the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from asic_bridge.device import open_device
from asic_bridge.errors import ProtocolError
from asic_bridge.events import TelemetryEvent
from asic_bridge.models import KNOB_ECHOES, KNOBS
from asic_bridge.telemetry_schema import ECHOES, INDEX_KINDS, SCHEMA, check, markdown_table
from emulator.device import EmulatedDevice
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import AxeOSFace
from emulator.live import LiveEmulator

DOC = Path(__file__).resolve().parents[1] / "docs" / "telemetry.md"
FACES = {"lv06": AxeOSFace, "s9": CgminerFace, "lbbox": GoldshellFace}

Key = tuple[str, str, int | None]


def in_process_set(model: str) -> set[Key]:
    """(quantity, unit, index) of ``emu://MODEL`` over a few simulated seconds (two
    telemetry periods of the slowest firmware, 5 s)."""
    device = open_device(f"emu://{model}?seed=3")
    assert isinstance(device, EmulatedDevice)
    device.clock.sleep(11.0)
    events = [e for e in device.events() if isinstance(e, TelemetryEvent)]
    assert events, f"{model}: no telemetry in 11 simulated s"
    return {(e.quantity, e.unit, e.index) for e in events}


def face_set(model: str) -> set[Key]:
    """(quantity, unit, index) of one poll of the model's live face by its API client,
    on loopback."""
    with LiveEmulator(model, seed=3, warm_up_s=60) as live, \
            FACES[model](live, port=0) as face:
        device = open_device(f"{face.url}?period_s=0.2")
        try:
            assert device.wait_for_sample(10.0), f"{model}: face never answered a poll"
            return {(e.quantity, e.unit, e.index) for e in device.read_telemetry()}
        finally:
            device.close()


@pytest.mark.parametrize("model", sorted(FACES))
def test_in_process_and_face_report_the_same_quantities(model: str) -> None:
    local, remote = in_process_set(model), face_set(model)
    assert local == remote, (f"{model}: only in process {sorted(local - remote)}; "
                             f"only through the face {sorted(remote - local)}")
    for quantity, unit, index in local:
        check(quantity, unit, index)  # in the schema, in its unit, with its index kind


def test_s9_chains_and_fans_are_indexed_from_zero() -> None:
    keys = in_process_set("s9")
    assert {i for q, _, i in keys if q == "board_temp"} == {0, 1, 2}  # slots 6-8
    assert {i for q, _, i in keys if q == "fan_rpm"} == {0, 1}  # fan3, fan6
    assert not any(q.startswith("chain6") for q, _, _ in keys)


def test_check_refuses_what_the_schema_does_not_say() -> None:
    check("chip_temp", "degC", 0)
    check("fan_duty", "%", None)
    for bad in [("chip_temp", "degC", None), ("chip_temp", "K", 0), ("fan_duty", "%", 1),
                ("fan", "%", None), ("chain6_chip_temp", "degC", None), ("fan_rpm", "rpm", -1),
                ("fan_rpm", "rpm", True)]:
        with pytest.raises(ProtocolError):
            check(*bad)  # type: ignore[arg-type]


def test_schema_is_well_formed() -> None:
    for name, q in SCHEMA.items():
        assert q.name == name and q.index in INDEX_KINDS and q.unit and q.meaning
        if q.echo_of is not None:
            assert q.echo_of in KNOBS, f"{name} echoes unknown knob {q.echo_of}"
    assert ECHOES <= KNOB_ECHOES, f"echoes missing from KNOB_ECHOES: {ECHOES - KNOB_ECHOES}"
    fan_duty = [q for q in SCHEMA.values() if q.unit == "%" and q.name.startswith("fan")]
    assert [q.name for q in fan_duty] == ["fan_duty"]  # one name for fan duty


def test_docs_table_is_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- schema:begin -->\n", "<!-- schema:end -->"
    assert begin in text and end in text
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == markdown_table(), "docs/telemetry.md is stale: paste markdown_table()"
