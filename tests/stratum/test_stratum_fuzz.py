"""Hypothesis fuzz of the Stratum line codec and the pool session: whatever arrives, the
codec raises nothing but ProtocolError, the splitter holds at most one line's bytes,
and a session answers every line with a bounded reply and never raises."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asic_bridge.errors import ProtocolError
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.messages import (
    LineSplitter,
    Notification,
    Request,
    Response,
    encode_request,
    parse_message,
)
from asic_bridge.stratum.pool import Pool, PoolConfig

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_REPLY_BYTES = 4096  # an answer to one line (a job notify is ~600 bytes)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)
METHODS = [
    "mining.subscribe", "mining.authorize", "mining.submit", "mining.configure",
    "mining.suggest_difficulty", "mining.suggest_difficulty(0.5)", "mining.extranonce.subscribe",
    "mining.ping", "mining.get_transactions", "mining.notify", "nonsense",
]
hexish = st.text(alphabet="0123456789abcdefABCDEFxz ", max_size=20)
submit_params = st.lists(st.one_of(hexish, json_values), max_size=7)
messages = st.fixed_dictionaries(
    {"method": st.sampled_from(METHODS) | st.text(max_size=30)},
    optional={"id": st.none() | st.integers() | st.text(max_size=10) | json_values,
              "params": st.one_of(submit_params, json_values)},
)


@FUZZ
@given(st.binary(max_size=300))
def test_parse_message_raises_only_protocol_error_on_bytes(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ProtocolError:
        return
    assert isinstance(message, Request | Notification | Response)


@FUZZ
@given(json_values | messages)
def test_parse_message_raises_only_protocol_error_on_json(value: Any) -> None:
    try:
        message = parse_message(json.dumps(value).encode())
    except ProtocolError:
        return
    assert isinstance(message, Request | Notification | Response)


@FUZZ
@given(st.integers(1, 3000), st.sampled_from(["[", "{\"a\":", "[{\"b\":"]))
def test_deep_nesting_is_a_protocol_error(depth: int, opener: str) -> None:
    closer = {"[": "]", "{\"a\":": "}", "[{\"b\":": "}]"}[opener]
    line = (opener * depth + "1" + closer * depth).encode()
    with contextlib.suppress(ProtocolError):
        parse_message(line)


@FUZZ
@given(st.integers(-2**40, 2**40) | st.text(min_size=1, max_size=10), st.text(max_size=30),
       st.lists(json_values, max_size=5))
def test_request_roundtrip(msg_id: Any, method: str, params: list[Any]) -> None:
    message = parse_message(encode_request(msg_id, method, params))
    assert isinstance(message, Request) and message.method == method and message.id == msg_id


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=30), st.integers(8, 256))
def test_splitter_is_bounded_and_loses_nothing(chunks: list[bytes], limit: int) -> None:
    splitter = LineSplitter(max_line_bytes=limit)
    lines: list[bytes] = []
    try:
        for chunk in chunks:
            got = splitter.feed(chunk)
            assert all(0 < len(x) <= limit for x in got)
            assert splitter.pending <= limit
            lines += got
    except ProtocolError:
        return  # an over-long line: the stream is closed
    stream = b"".join(chunks)
    complete = stream[: stream.rfind(b"\n") + 1] if b"\n" in stream else b""
    expected = [x.rstrip(b"\r") for x in complete.split(b"\n")]
    assert lines == [x for x in expected if x.strip()]


def _session() -> tuple[Any, list[bytes], list[Any]]:
    out: list[bytes] = []
    events: list[Any] = []
    pool = Pool(PoolConfig(difficulty=1e-10, min_difficulty=1e-10, job_interval_s=None, max_bad_lines=10**9),
                job_source=SyntheticJobSource(extranonce_size=8, seed=2), sink=events.append, seed=3)
    pool.new_job()
    return pool.open_session(out.append), out, events


@FUZZ
@given(st.lists(messages | st.binary(max_size=120).map(lambda b: b), min_size=1, max_size=12), st.booleans())
def test_session_answers_anything_without_raising(lines: list[Any], handshake: bool) -> None:
    session, out, events = _session()
    if handshake:
        session.handle_line(b'{"id":1,"method":"mining.subscribe","params":["f"]}')
        session.handle_line(b'{"id":2,"method":"mining.authorize","params":["f","x"]}')
    for item in lines:
        out.clear()
        line = item if isinstance(item, bytes) else json.dumps(item).encode()
        if not line.strip():
            continue
        session.handle_line(line)  # never raises: bad input is an answer
        assert sum(map(len, out)) <= MAX_REPLY_BYTES
        for chunk in out:
            for text in chunk.splitlines():
                json.loads(text)  # every reply is valid JSON
    for ev in events:
        assert len(getattr(ev, "job_id", "")) <= 64 and len(ev.device) <= 300
