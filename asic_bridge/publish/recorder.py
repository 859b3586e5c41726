"""Record the event stream of MQTT capture agents into one capture store (``hashrc record``).

Capture agents near the devices publish (:class:`asic_bridge.publish.mqtt.MqttPublisher`);
one recorder elsewhere subscribes to ``hashrc/<site or +>/+/+`` and writes every event
it receives into a :class:`~asic_bridge.capture.CaptureWriter`.

Nothing lost, nothing twice:

* the recorder holds a persistent MQTT v5 session (``clean_start`` off, a session expiry
  of ``session_expiry_s``) under a fixed client id, so the broker keeps its messages
  while it is away, and across a broker restart when the broker persists sessions
  (mosquitto ``persistence true``);
* each message is acknowledged to the broker only after the capture writer committed
  its event (manual acknowledgements), so a recorder killed at any moment gets the
  unacknowledged rest again from the broker;
* resends and retained messages seen again are dropped by event identity
  (:func:`~asic_bridge.publish.messages.event_id`), remembered for the last
  ``dedupe_window`` events (a bound: memory stays flat however long it runs).

A message that is not a hashrc event (another schema, garbage) is counted in
:attr:`MqttRecorder.rejected`, logged, acknowledged and not recorded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

from asic_bridge.capture.metadata import CaptureMetadata, discard_capture, new_capture
from asic_bridge.errors import BridgeError, ProtocolError
from asic_bridge.publish.messages import decode_message, subscription

log = logging.getLogger(__name__)


class MqttRecorder:
    """Subscribe to ``mqtt://host:port`` and record every event into ``out``."""

    def __init__(
        self,
        host: str,
        port: int,
        out: str | Path,
        *,
        site: str | None = None,
        client_id: str = "hashrc-recorder",
        overwrite: bool = False,
        session_expiry_s: int = 7 * 24 * 3600,
        dedupe_window: int = 1_000_000,
        connect_timeout_s: float = 5.0,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        if dedupe_window < 1:
            raise ValueError(f"dedupe_window must be >= 1, got {dedupe_window}")
        self.host, self.port = host, port
        self.recorded = 0
        self.duplicates = 0
        self.rejected = 0
        self._window = dedupe_window
        self._seen: dict[str, None] = {}
        self._lock = threading.Lock()
        self._queued = 0  # events handed to the writer so far
        self._unacked: deque[tuple[int, int]] = deque()  # (events queued at receipt, mid)
        self._subscribed = threading.Event()
        self._filter = subscription(site)
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv5)
        self._client.manual_ack_set(True)
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
        properties.ReceiveMaximum = 65535
        metadata = CaptureMetadata(device_model="unknown", task="mqtt-record", clock="wall", extra={
            "source": f"mqtt://{host}:{port}", "topic_filter": self._filter})
        self._writer = new_capture(out, metadata, overwrite=overwrite, on_commit=self._on_commit)
        try:
            self._client.connect(host, port, clean_start=False, properties=properties)
        except OSError as exc:
            self._writer.close()
            discard_capture(out)
            raise BridgeError(
                f"MQTT broker at mqtt://{host}:{port} unreachable: {exc}; start it or pass another --mqtt"
            ) from exc
        self._client.loop_start()
        if not self._subscribed.wait(connect_timeout_s):
            self.close()
            raise BridgeError(f"MQTT broker at mqtt://{host}:{port} did not accept the subscription "
                              f"within {connect_timeout_s:g} s")

    @property
    def committed(self) -> int:
        """Events durably in the capture file."""
        return self._writer.committed

    def close(self) -> None:
        """Stop receiving, commit what was received, close the capture. Idempotent."""
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.close()

    def __enter__(self) -> MqttRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def summary(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "duplicates": self.duplicates, "rejected": self.rejected,
                "committed": self.committed}

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.warning("MQTT broker refused the recorder: %s", reason_code)
            return
        client.subscribe(self._filter, qos=1)

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        try:
            event, identity, _site = decode_message(message.payload)
        except ProtocolError as exc:
            with self._lock:
                self.rejected += 1
                count = self.rejected
            if count <= 10 or count % 1000 == 0:
                log.warning("MQTT %s: not a hashrc event (%s); %d rejected so far", message.topic, exc, count)
            client.ack(message.mid, message.qos)
            return
        with self._lock:
            if identity in self._seen:
                self.duplicates += 1
            else:
                self._seen[identity] = None
                if len(self._seen) > self._window:
                    del self._seen[next(iter(self._seen))]
                self._writer.write(event)
                self._queued += 1
                self.recorded += 1
            if message.qos == 0:
                return
            # acknowledged once everything queued up to now is committed
            self._unacked.append((self._queued, message.mid))
        if self._writer.committed >= self._queued:
            self._ack_committed(self._writer.committed)

    def _on_commit(self, committed: int) -> None:
        self._ack_committed(committed)

    def _ack_committed(self, committed: int) -> None:
        ready: list[int] = []
        with self._lock:
            while self._unacked and self._unacked[0][0] <= committed:
                ready.append(self._unacked.popleft()[1])
        for mid in ready:
            self._client.ack(mid, 1)
