"""The Device base owns the event queue (bounded, thread-safe, host-time order), identity,
clock and the knob checks; a backend implements only its primitives."""

from __future__ import annotations

import threading

import pytest

from asic_bridge.device import Device, DeviceInfo
from asic_bridge.errors import EnvelopeError, UnknownKnobError
from asic_bridge.events import ControlEvent, StatusEvent, TelemetryEvent
from asic_bridge.models import spec_for


class Minimal(Device):
    """A backend with one primitive: apply a knob."""

    control_paths = {"fan": "management API"}  # noqa: RUF012 - a test double

    def __init__(self, **kwargs: object) -> None:
        super().__init__(spec=spec_for("lv06"), info=DeviceInfo("test://1", "lv06", "S1", "fw"),
                         **kwargs)  # type: ignore[arg-type]
        self.applied: list[tuple[str, float]] = []

    def _apply_knob(self, knob: str, value: float) -> ControlEvent:
        self.applied.append((knob, value))
        return self._record_control(knob, value, "%", value)


def telemetry(t_ns: int, value: float = 1.0) -> TelemetryEvent:
    return TelemetryEvent(t_ns, "test://1", "power", value, "W")


def test_events_drain_in_host_time_order_from_many_threads() -> None:
    device = Minimal()
    threads = [threading.Thread(target=lambda k=k: [device._emit(telemetry(1000 * i + k))
                                                    for i in range(500)]) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    drained = [e.t_ns for e in device.events()]
    assert len(drained) == 2000 and drained == sorted(drained)
    assert list(device.events()) == []
    assert device.read_telemetry() == [telemetry(499_003)]  # latest per quantity


def test_the_queue_is_bounded_and_a_drop_is_reported_not_silent() -> None:
    device = Minimal(max_queued_events=10)
    for i in range(25):
        device._emit(telemetry(i))
    events = list(device.events())
    assert isinstance(events[0], StatusEvent) and events[0].status == "events_dropped"
    assert events[0].count == 15 and len(events) == 11
    assert device.stats["events_dropped"] == device.health().events_dropped == 15


def test_a_half_full_queue_is_congested_and_a_pool_feeding_it_holds_back() -> None:
    """Back-pressure: the device's queue says when it is half full; the pool a device owns
    hands that test to its server (which then stops reading from the miner)."""
    from asic_bridge.miner_pool import MinerPool

    device = Minimal(max_queued_events=10)
    for i in range(4):
        device._emit(telemetry(i))
    assert device.queued_events() == 4 and not device.is_congested()
    device._emit(telemetry(5))
    assert device.is_congested()
    list(device.events())
    assert not device.is_congested() and device.failure() is None
    pool = MinerPool(("127.0.0.1", 0), device_id="test://1", sink=device._emit,
                     difficulty=1e-3, congested=device.is_congested).start()
    try:
        assert pool._thread.server.pool.congested == device.is_congested
    finally:
        pool.close()


def test_repeated_status_folds_into_one_event_with_a_count() -> None:
    device = Minimal()
    for _ in range(5):
        device._emit_status("poll_failed", "refused")
    device._emit_status("poll_failed", "timeout")
    events = list(device.events())
    assert [(e.detail, e.count) for e in events] == [("refused", 5), ("timeout", 1)]


def test_set_knob_checks_before_the_backend_sees_anything() -> None:
    device = Minimal()
    with pytest.raises(EnvelopeError):
        device.set_knob("frequency", 5000, "MHz")
    with pytest.raises(UnknownKnobError):
        device.set_knob("fan", 50, "rpm")
    assert device.applied == []
    event = device.set_knob("fan", 50, "%")
    assert device.applied == [("fan", 50.0)] and list(device.events()) == [event]
    assert device.control_path("fan") == "management API"
    with pytest.raises(UnknownKnobError, match="has no 'difficulty' knob"):
        device.control_path("difficulty")
    assert device.health().answered  # nothing to poll: nothing that failed
