"""The MQTT message format of the event stream, without any I/O (sans-IO).

Topics: ``hashrc/<site>/<device>/<kind>``, where ``kind`` is the event kind's one name
(:data:`asic_bridge.events.EVENT_KINDS`: ``shares``, ``telemetry``, ``control``, ``jobs``,
``status``), the same as the capture table it is recorded in. ``site`` names the bench or
machine a capture agent runs on; MQTT wildcards and ``/`` in a name become ``_`` so a
name is always one topic level.

Payload: one JSON object per event: ``schema`` (:data:`MQTT_SCHEMA_VERSION`), ``kind``,
``id`` (the event's identity, below), ``site``, and every field of the event (enums as
their values). A recorder rebuilds the typed event with :func:`decode_message`.

Identity: :func:`event_id` is a hash of the kind and all fields. Two messages with the
same identity are the same event (a QoS 1 resend, a retained message seen again after a
reconnect), so a recorder keeps one. Two distinct events never share one: they differ in
some field, the nanosecond timestamp at least.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from asic_bridge.errors import ProtocolError
from asic_bridge.events import (
    EVENT_KINDS,
    KIND_EVENTS,
    Event,
    ShareOutcome,
    TimestampSource,
)

MQTT_SCHEMA_VERSION = 1
TOPIC_ROOT = "hashrc"
DEFAULT_PORT = 1883
MAX_PAYLOAD_BYTES = 64 * 1024  # an event is a few hundred bytes; anything larger is not ours
_ENUM_FIELDS: dict[str, type[Enum]] = {"outcome": ShareOutcome, "t_source": TimestampSource}
_HEADER_KEYS = ("schema", "kind", "id", "site")


def topic_level(name: str) -> str:
    """``name`` as one topic level: ``/``, ``+``, ``#`` and NUL become ``_``; empty is ``_``."""
    cleaned = "".join("_" if c in "/+#\0" else c for c in name)
    return cleaned or "_"


def topic_for(site: str, device: str, kind: str) -> str:
    """``hashrc/<site>/<device>/<kind>``."""
    if kind not in KIND_EVENTS:
        raise ValueError(f"unknown event kind {kind!r}; kinds: {sorted(KIND_EVENTS)}")
    return f"{TOPIC_ROOT}/{topic_level(site)}/{topic_level(device)}/{kind}"


def subscription(site: str | None = None) -> str:
    """The topic filter for every event of one site (or of every site)."""
    return f"{TOPIC_ROOT}/{topic_level(site) if site else '+'}/+/+"


def _fields(event: Event) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        doc[field.name] = value.value if isinstance(value, Enum) else value
    return doc


def event_id(event: Event) -> str:
    """The identity of an event: 128 bits of BLAKE2b over its kind and fields, in hex."""
    canonical = json.dumps([EVENT_KINDS[type(event)], _fields(event)], sort_keys=True,
                           separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def encode_event(event: Event, *, site: str) -> tuple[str, bytes]:
    """The topic and the JSON payload of one event."""
    kind = EVENT_KINDS[type(event)]
    doc = {"schema": MQTT_SCHEMA_VERSION, "kind": kind, "id": event_id(event), "site": site,
           **_fields(event)}
    return topic_for(site, event.device, kind), json.dumps(doc, separators=(",", ":")).encode()


def decode_message(payload: bytes) -> tuple[Event, str, str]:
    """``(event, identity, site)`` from a payload made by :func:`encode_event`.

    Raises :class:`ProtocolError` for anything else: not JSON, another schema version, an
    unknown kind, missing or extra fields, a wrong identity.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"MQTT payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"MQTT payload is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("MQTT payload is not a JSON object")
    if doc.get("schema") != MQTT_SCHEMA_VERSION:
        raise ProtocolError(f"MQTT payload schema {doc.get('schema')!r}, expected {MQTT_SCHEMA_VERSION}")
    event_type = KIND_EVENTS.get(doc.get("kind"))  # type: ignore[arg-type]
    if event_type is None:
        raise ProtocolError(f"MQTT payload of unknown kind {doc.get('kind')!r}")
    values = {k: v for k, v in doc.items() if k not in _HEADER_KEYS}
    for name, enum in _ENUM_FIELDS.items():
        if values.get(name) is not None:
            try:
                values[name] = enum(values[name])
            except ValueError:
                raise ProtocolError(f"MQTT payload: bad {name} {values[name]!r}") from None
    try:
        event = event_type(**values)
    except TypeError as exc:
        raise ProtocolError(f"MQTT payload does not match a {doc['kind']} event: {exc}") from None
    identity = event_id(event)
    if identity != doc.get("id"):
        raise ProtocolError(f"MQTT payload identity {doc.get('id')!r} does not match its fields")
    return event, identity, str(doc.get("site", ""))


def parse_mqtt_url(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``mqtt://HOST[:PORT]`` or ``HOST[:PORT]`` (port 1883 by default)."""
    url = urlsplit(text if "://" in text else f"mqtt://{text}")
    if url.scheme != "mqtt":
        raise ValueError(f"MQTT broker URL {text!r} must be mqtt://HOST[:PORT]")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(f"MQTT broker URL {text!r} takes only mqtt://HOST[:PORT]")
    try:
        port = url.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"MQTT broker URL {text!r}: port must be 1-65535") from None
    if not url.hostname:
        raise ValueError(f"MQTT broker URL {text!r} names no host")
    return url.hostname, port
