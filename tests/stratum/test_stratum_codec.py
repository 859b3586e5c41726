"""The sans-IO codec: line splitting, message parsing, typed params, error styles."""

from __future__ import annotations

import json

import pytest

from asic_bridge.errors import ProtocolError
from asic_bridge.events import ShareOutcome
from asic_bridge.stratum import methods
from asic_bridge.stratum.messages import (
    MAX_LINE_BYTES,
    LineSplitter,
    Notification,
    Request,
    Response,
    encode_notification,
    encode_request,
    encode_response,
    encode_true,
    parse_message,
)
from asic_bridge.stratum.rejects import ErrorStyle, outcome_of_response, reject_line


def test_splitter_joins_partial_lines_and_strips_crlf() -> None:
    s = LineSplitter()
    assert s.feed(b'{"id":1,') == []
    assert s.feed(b'"method":"mining.ping"}\r\n\n{"id"') == [b'{"id":1,"method":"mining.ping"}']
    assert s.pending == 5
    assert s.feed(b":2}\n") == [b'{"id":2}']


def test_splitter_accepts_exactly_64_kib() -> None:
    line = b"x" * MAX_LINE_BYTES
    assert LineSplitter().feed(line + b"\n") == [line]


def test_splitter_rejects_line_over_64_kib_without_newline() -> None:
    s = LineSplitter()
    s.feed(b"x" * MAX_LINE_BYTES)
    with pytest.raises(ProtocolError, match="exceeds"):
        s.feed(b"y")


def test_splitter_rejects_line_over_64_kib_with_newline() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        LineSplitter().feed(b"x" * (MAX_LINE_BYTES + 1) + b"\n")


def test_parse_request_notification_response() -> None:
    assert parse_message(b'{"id":3,"method":"mining.subscribe","params":["a"]}') == Request(
        3, "mining.subscribe", ["a"]
    )
    assert parse_message(b'{"id":null,"method":"mining.notify","params":[1]}') == Notification(
        "mining.notify", [1]
    )
    r = parse_message(b'{"id":4,"result":false,"error":null,"reject-reason":"Stale"}')
    assert isinstance(r, Response) and r.reject_reason == "Stale" and not r.ok
    assert parse_message(b'{"id":5,"method":"mining.ping"}') == Request(5, "mining.ping", [])


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (b"hello world", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1,2,3]", "JSON object"),
        (b'{"id":[1],"method":"mining.ping"}', "id must be"),
        (b'{"id":true,"method":"mining.ping"}', "id must be"),
        (b'{"id":1,"method":5}', "method must be a string"),
        (b'{"id":1,"method":"mining.submit","params":{"a":1}}', "JSON array"),
        (b'{"id":1}', "needs a method"),
    ],
)
def test_parse_rejects_bad_lines(line: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        parse_message(line)


def test_encoders_round_trip() -> None:
    assert json.loads(encode_request(1, "mining.ping", [])) == {
        "id": 1,
        "method": "mining.ping",
        "params": [],
    }
    assert encode_notification("mining.set_difficulty", [1e-6]).endswith(b"\n")
    assert json.loads(encode_true(7)) == {"id": 7, "result": True, "error": None}
    assert json.loads(encode_true("x")) == {"id": "x", "result": True, "error": None}
    line = encode_response(2, False, None, reject_reason="Duplicate")
    assert json.loads(line)["reject-reason"] == "Duplicate"


def test_parse_submit_values() -> None:
    s = methods.parse_submit(["w", "1a", "00000001", "65000000", "deadbeef", "00002000"])
    assert (s.worker, s.job_id, s.extranonce2, s.ntime, s.nonce, s.version_bits) == (
        "w",
        "1a",
        b"\x00\x00\x00\x01",
        0x65000000,
        0xDEADBEEF,
        0x2000,
    )
    assert methods.parse_submit(["w", "1", "00", "1", "2"]).version_bits is None


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (["w", "1", "00", "65000000"], "needs 5 params"),
        ([], "needs 5 params"),
        ([1, "1", "00", "65000000", "00000000"], "worker must be a string"),
        (["w", 1, "00", "65000000", "00000000"], "job_id must be a string"),
        (["w", "1", "0", "65000000", "00000000"], "even-length hex"),
        (["w", "1", "zz", "65000000", "00000000"], "even-length hex"),
        (["w", "1", "00", 1690000000, "00000000"], "ntime must be a string"),
        (["w", "1", "00", "650000001", "00000000"], "1-8 hex digits"),
        (["w", "1", "00", "65000000", "xyz"], "1-8 hex digits"),
        (["w", "1", "00", "65000000", "00000000", 5], "version_bits must be a string"),
    ],
)
def test_parse_submit_rejects(params: list[object], match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        methods.parse_submit(params)


def test_suggest_difficulty_forms() -> None:
    m = methods.SUGGEST_DIFFICULTY
    assert methods.parse_suggest_difficulty(m, [0.001]) == 0.001
    assert methods.parse_suggest_difficulty(m, ["0.25"]) == 0.25  # ckpool's string form
    assert methods.parse_suggest_difficulty(m + "(64)", []) == 64.0  # ckpool's old form
    for bad in ([], ["abc"], [-1], [True], [None]):
        with pytest.raises(ProtocolError):
            methods.parse_suggest_difficulty(m, bad)


def test_configure_and_authorize_params() -> None:
    exts, opts = methods.parse_configure(
        [["version-rolling"], {"version-rolling.mask": "1fffe000"}]
    )
    assert exts == ["version-rolling"] and opts["version-rolling.mask"] == "1fffe000"
    with pytest.raises(ProtocolError):
        methods.parse_configure(["version-rolling"])
    assert methods.parse_authorize(["u"]) == ("u", "")
    with pytest.raises(ProtocolError):
        methods.parse_authorize([])
    with pytest.raises(ProtocolError):
        methods.parse_authorize([{"u": 1}])


@pytest.mark.parametrize("outcome", [o for o in ShareOutcome if o is not ShareOutcome.ACCEPTED])
@pytest.mark.parametrize("style", list(ErrorStyle))
def test_reject_styles_read_back(outcome: ShareOutcome, style: ErrorStyle) -> None:
    line = reject_line(9, outcome, style)
    obj = json.loads(line)
    if style is ErrorStyle.CKPOOL:
        assert obj["result"] is False and obj["error"] is None and obj["reject-reason"]
    else:
        assert (
            obj["result"] is None and isinstance(obj["error"], list) and 20 <= obj["error"][0] <= 25
        )
    back = outcome_of_response(parse_message(line))  # type: ignore[arg-type]
    if outcome is ShareOutcome.HARDWARE_ERROR:
        assert back is ShareOutcome.MALFORMED
    else:
        assert back is outcome


def test_client_reads_string_and_object_errors() -> None:
    assert outcome_of_response(Response(1, None, "Duplicate share")) is ShareOutcome.DUPLICATE
    assert (
        outcome_of_response(Response(1, None, {"code": 23, "message": "x"}))
        is ShareOutcome.LOW_DIFFICULTY
    )
    assert outcome_of_response(Response(1, True, None)) is ShareOutcome.ACCEPTED
