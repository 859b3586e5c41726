"""Publish the event stream to an MQTT broker with paho-mqtt (a capture agent's side).

Each event becomes one QoS 1 message on ``hashrc/<site>/<device>/<kind>`` (format in
:mod:`asic_bridge.publish.messages`). :class:`MqttPublisher` is a sink like
:meth:`CaptureWriter.write`; :func:`fanout` feeds one event to several sinks (record it
and publish it). The capture file, not MQTT, stays the record of an experiment.

Nothing is lost while the broker is away: paho keeps every unacknowledged QoS 1 message
(up to ``max_buffered``, a bound so a long outage cannot exhaust memory; beyond it a
message is counted in :attr:`MqttPublisher.dropped` and a warning is logged) and resends
it after reconnecting, with backoff. A broker acknowledges a message before it has
delivered or saved it, so a broker restart can lose messages it had already
acknowledged (mosquitto 2.0 was measured losing a few dozen in a 4,000-event stream);
the publisher therefore also keeps the messages of the last ``replay_s`` seconds (at
most ``max_replay``) and publishes them again after every reconnect. Resends deliver
messages twice; the recorder keeps one by event identity
(:mod:`asic_bridge.publish.recorder`).

The agent's own state is a retained ``status`` message on
``hashrc/<site>/<agent>/status``: ``online`` when connected, ``offline`` when it closes,
and ``offline`` as its last will if its connection dies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from asic_bridge.errors import BridgeError
from asic_bridge.events import Event, StatusEvent
from asic_bridge.publish.messages import DEFAULT_PORT, encode_event, topic_for, topic_level

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publish events to ``host:port`` (loopback by default) at QoS ``qos`` (0 or 1).

    ``site`` is the topic's site level (the bench or machine); ``agent`` names this
    publisher in its status topic (default ``agent``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        site: str = "local",
        agent: str = "agent",
        qos: int = 1,
        client_id: str = "",
        connect_timeout_s: float = 5.0,
        max_buffered: int = 1_000_000,
        replay_s: float = 10.0,
        max_replay: int = 200_000,
    ) -> None:
        import paho.mqtt.client as mqtt

        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        if max_buffered < 1:
            raise ValueError(f"max_buffered must be >= 1, got {max_buffered}")
        if replay_s < 0 or max_replay < 0:
            raise ValueError("replay_s and max_replay must be >= 0")
        self.host, self.port = host, port
        self.site = topic_level(site)
        self.agent = topic_level(agent)
        self.qos = qos
        self.published = 0
        self.dropped = 0
        self._acked = 0
        self.replayed = 0
        self._replay_s = replay_s
        self._replaying = replay_s > 0 and max_replay > 0
        self._recent: deque[tuple[float, str, bytes]] = deque(maxlen=max(1, max_replay))
        self._ever_connected = False
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._closed = False
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.max_queued_messages_set(max_buffered)
        self._client.max_inflight_messages_set(1000)
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        will_topic, will_payload = encode_event(self._status("offline", "connection lost"), site=self.site)
        self._client.will_set(will_topic, will_payload, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *args: self._connected.clear()
        self._client.on_publish = self._on_publish
        try:
            self._client.connect(host, port)
        except OSError as exc:
            raise BridgeError(
                f"MQTT broker at mqtt://{host}:{port} unreachable: {exc}; start it or pass another --mqtt"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(connect_timeout_s):
            self._client.loop_stop()
            raise BridgeError(f"MQTT broker at mqtt://{host}:{port} did not accept the connection "
                              f"within {connect_timeout_s:g} s")

    @property
    def status_topic(self) -> str:
        return topic_for(self.site, self.agent, "status")

    @property
    def pending(self) -> int:
        """Messages published but not yet acknowledged by the broker (QoS 1)."""
        with self._lock:
            return max(0, self.published - self._acked)

    def write(self, event: Event) -> None:
        """Queue one event for publishing (thread-safe, does not wait for the network)."""
        import paho.mqtt.client as mqtt

        topic, payload = encode_event(event, site=self.site)
        info = self._client.publish(topic, payload, qos=self.qos)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            with self._lock:
                self.dropped += 1
                first = self.dropped == 1
            if first:
                log.warning("MQTT buffer full (broker mqtt://%s:%d away too long): events are being "
                            "dropped from the live stream; the capture file still has them",
                            self.host, self.port)
            return
        with self._lock:
            self.published += 1
            if self._replaying:
                self._recent.append((time.monotonic(), topic, payload))

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the broker acknowledged everything published; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.pending > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait (up to ``timeout_s``) for the broker to acknowledge what is buffered, mark
        the agent offline, disconnect and stop paho's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self.flush(timeout_s):
            log.warning("MQTT: %d events not acknowledged by mqtt://%s:%d at close",
                        self.pending, self.host, self.port)
        if self._connected.is_set():
            self._publish_status("offline", "closed").wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _status(self, status: str, detail: str) -> StatusEvent:
        return StatusEvent(time.time_ns(), self.agent, status, detail)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            return
        self._publish_status("online", f"publishing to site {self.site}")
        if self._ever_connected:
            self._replay(client)
        self._ever_connected = True
        self._connected.set()

    def _replay(self, client) -> None:  # type: ignore[no-untyped-def]
        """Publish the messages of the last ``replay_s`` seconds again (after a reconnect)."""
        with self._lock:
            horizon = time.monotonic() - self._replay_s
            while self._recent and self._recent[0][0] < horizon:
                self._recent.popleft()
            again = list(self._recent)
            self.published += len(again)
            self.replayed += len(again)
        for _, topic, payload in again:
            client.publish(topic, payload, qos=self.qos)

    def _publish_status(self, status: str, detail: str):  # type: ignore[no-untyped-def]
        """Publish the agent's retained status (counted like any message)."""
        topic, payload = encode_event(self._status(status, detail), site=self.site)
        with self._lock:
            self.published += 1
        return self._client.publish(topic, payload, qos=1, retain=True)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self._acked += 1


def fanout(*sinks: Callable[[Event], None]) -> Callable[[Event], None]:
    """One sink that hands each event to every sink in turn."""

    def write(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return write
