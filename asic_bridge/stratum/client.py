"""Client side of Stratum V1 without I/O: what a miner (the emulator, the proxy's upstream
link, test clients) sends and how it reads the pool's lines.

:class:`ClientSession` builds the handshake in ESP-Miner's order (configure, subscribe,
authorize, suggest_difficulty), numbers requests, and turns each pool line into
:class:`ClientEvent` values. :func:`scan_nonces` mines a nonce range on the CPU
(SHA-256d with a midstate, or LBRY's proof of work).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from asic_bridge.errors import ProtocolError
from asic_bridge.events import ShareOutcome
from asic_bridge.hashing import lbry_pow_hash, target_of_difficulty
from asic_bridge.stratum import methods
from asic_bridge.stratum.jobs import Job
from asic_bridge.stratum.messages import (
    Notification,
    Request,
    Response,
    encode_request,
    encode_response,
    parse_message,
)
from asic_bridge.stratum.rejects import outcome_of_response

MAX_PENDING = 65_536
"""Requests awaiting the pool's answer, at most (older ones are forgotten: their answers,
if they come, read as other messages)."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    extranonce1: bytes
    extranonce2_size: int


@dataclass(frozen=True, slots=True)
class Authorized:
    ok: bool
    error: Any = None


@dataclass(frozen=True, slots=True)
class Configured:
    version_mask: int | None


@dataclass(frozen=True, slots=True)
class NewJob:
    job: Job


@dataclass(frozen=True, slots=True)
class NewDifficulty:
    difficulty: float


@dataclass(frozen=True, slots=True)
class NewExtranonce:
    extranonce1: bytes
    extranonce2_size: int


@dataclass(frozen=True, slots=True)
class ShareResult:
    """The pool's verdict on submit ``msg_id``."""

    msg_id: int
    outcome: ShareOutcome
    response: Response


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """Anything else (client.reconnect, show_message, answers to other calls...)."""

    message: Any


ClientEvent = (
    Subscribed
    | Authorized
    | Configured
    | NewJob
    | NewDifficulty
    | NewExtranonce
    | ShareResult
    | OtherMessage
)


class ClientSession:
    """Sans-IO miner state. ``version_rolling`` asks for ``requested_mask`` via
    ``mining.configure``; ``suggest_difficulty`` is sent after authorize if given."""

    def __init__(
        self,
        *,
        user: str,
        password: str = "x",
        agent: str = "hashrc",
        version_rolling: bool = True,
        requested_mask: int = 0xFFFFFFFF,
        suggest_difficulty: float | None = None,
        lbry: bool = False,
    ) -> None:
        self.user = user
        self.password = password
        self.agent = agent
        self.version_rolling = version_rolling
        self.requested_mask = requested_mask
        self.suggest_difficulty = suggest_difficulty
        self.lbry = lbry
        self.extranonce1: bytes | None = None
        self.extranonce2_size = 0
        self.version_mask = 0
        self.difficulty = 1.0
        self.authorized = False
        self.job: Job | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, str] = {}

    def request(self, method: str, params: list[Any]) -> tuple[int, bytes]:
        """Encode a numbered request; the answer is matched by id in :meth:`feed_line`."""
        msg_id = next(self._ids)
        self._pending[msg_id] = method
        if len(self._pending) > MAX_PENDING:  # a pool that never answers: forget the oldest
            del self._pending[next(iter(self._pending))]
        return msg_id, encode_request(msg_id, method, params)

    def handshake(self) -> bytes:
        """configure (if rolling), subscribe, authorize[, suggest_difficulty] as one chunk."""
        out = b""
        if self.version_rolling:
            out += self.request(
                "mining.configure",
                [["version-rolling"], {"version-rolling.mask": f"{self.requested_mask:08x}"}],
            )[1]
        out += self.request("mining.subscribe", [self.agent])[1]
        out += self.request("mining.authorize", [self.user, self.password])[1]
        if self.suggest_difficulty is not None:
            out += self.request(methods.SUGGEST_DIFFICULTY, [self.suggest_difficulty])[1]
        return out

    def submit(
        self,
        job_id: str,
        extranonce2: bytes,
        ntime: int,
        nonce: int,
        version_bits: int | None = None,
    ) -> tuple[int, bytes]:
        """Encode a ``mining.submit``; returns (id, line)."""
        params = methods.encode_submit_params(
            self.user, job_id, extranonce2, ntime, nonce, version_bits
        )
        return self.request("mining.submit", params)

    def feed_line(self, line: bytes) -> tuple[list[ClientEvent], bytes]:
        """Digest one pool line: (events, bytes to send back, e.g. a pong)."""
        message = parse_message(line)
        if isinstance(message, Response):
            return self._answer(message), b""
        method, params = message.method, message.params
        if method == "mining.notify":
            job = Job.from_notify(params, lbry=True if self.lbry else None)
            self.job = job
            return [NewJob(job)], b""
        if method == "mining.set_difficulty":
            self.difficulty = methods.parse_set_difficulty(params)
            return [NewDifficulty(self.difficulty)], b""
        if method == "mining.set_version_mask" and params:
            self.version_mask = methods.parse_version_mask(method, params[0])
            return [Configured(self.version_mask)], b""
        if method == "mining.set_extranonce" and len(params) >= 2:
            self.extranonce1, self.extranonce2_size = methods.parse_subscribe_result(
                [None, *params]
            )
            return [NewExtranonce(self.extranonce1, self.extranonce2_size)], b""
        if method == "mining.ping" and isinstance(message, Request):
            return [], encode_response(message.id, "pong")
        assert isinstance(message, Request | Notification)
        return [OtherMessage(message)], b""

    def _answer(self, response: Response) -> list[ClientEvent]:
        if not isinstance(response.id, int):
            return [OtherMessage(response)]
        method = self._pending.pop(response.id, None)
        if method == "mining.submit":
            return [ShareResult(response.id, outcome_of_response(response), response)]
        if method == "mining.subscribe":
            if response.error is not None:
                raise ProtocolError(f"subscribe refused: {response.error}")
            self.extranonce1, self.extranonce2_size = methods.parse_subscribe_result(
                response.result
            )
            return [Subscribed(self.extranonce1, self.extranonce2_size)]
        if method == "mining.authorize":
            self.authorized = response.ok
            return [Authorized(response.ok, response.error)]
        if method == "mining.configure":
            result = response.result if isinstance(response.result, dict) else {}
            mask = result.get("version-rolling.mask")
            if result.get("version-rolling") and isinstance(mask, str):
                self.version_mask = methods.parse_version_mask("mining.configure", mask)
                return [Configured(self.version_mask)]
            self.version_mask = 0
            return [Configured(None)]
        return [OtherMessage(response)]


def scan_nonces(
    job: Job,
    extranonce1: bytes,
    extranonce2: bytes,
    *,
    ntime: int,
    version: int,
    start: int,
    count: int,
    difficulty: float,
) -> list[tuple[int, int]]:
    """CPU-mine nonces ``start .. start+count-1``: the (nonce, hash_int) pairs reaching
    ``difficulty``. Uses a SHA-256 midstate of the first 64 header bytes."""
    target = target_of_difficulty(difficulty)
    header = job.header(extranonce1, extranonce2, ntime=ntime, nonce=0, version=version)
    found = []
    if job.claim_trie is not None:
        for nonce in range(start, start + count):
            h = lbry_pow_hash(header[:-4] + (nonce & 0xFFFFFFFF).to_bytes(4, "little"))
            value = int.from_bytes(h, "little")
            if value <= target:
                found.append((nonce & 0xFFFFFFFF, value))
        return found
    mid = hashlib.sha256(header[:64])
    tail = header[64:76]
    sha = hashlib.sha256
    from_bytes = int.from_bytes
    for nonce in range(start, start + count):
        h = mid.copy()
        h.update(tail + (nonce & 0xFFFFFFFF).to_bytes(4, "little"))
        value = from_bytes(sha(h.digest()).digest(), "little")
        if value <= target:
            found.append((nonce & 0xFFFFFFFF, value))
    return found
