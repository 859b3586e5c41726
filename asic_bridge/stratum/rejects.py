"""How a pool says "no": public-pool's ``[code, "msg", null]`` errors (default) or
ckpool's ``reject-reason``; and, for clients, reading either back into a ShareOutcome."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from asic_bridge.events import ShareOutcome
from asic_bridge.stratum.messages import JsonId, Response, encode_response

OTHER, JOB_NOT_FOUND, DUPLICATE, LOW_DIFFICULTY, UNAUTHORIZED, NOT_SUBSCRIBED = (
    20,
    21,
    22,
    23,
    24,
    25,
)
"""public-pool's error codes."""


class ErrorStyle(StrEnum):
    """Error answer style of the pool."""

    PUBLIC_POOL = "public-pool"
    CKPOOL = "ckpool"


_PUBLIC_POOL: dict[ShareOutcome, tuple[int, str]] = {
    ShareOutcome.UNKNOWN_JOB: (JOB_NOT_FOUND, "Job not found"),
    ShareOutcome.STALE: (JOB_NOT_FOUND, "Stale job"),
    ShareOutcome.DUPLICATE: (DUPLICATE, "Duplicate share"),
    ShareOutcome.LOW_DIFFICULTY: (LOW_DIFFICULTY, "Difficulty too low"),
    ShareOutcome.NTIME_OUT_OF_RANGE: (OTHER, "Ntime out of range"),
    ShareOutcome.BAD_VERSION_BITS: (OTHER, "Invalid version mask"),
    ShareOutcome.MALFORMED: (OTHER, "Invalid share"),
    ShareOutcome.HARDWARE_ERROR: (OTHER, "Invalid share"),
    ShareOutcome.UNAUTHORIZED: (UNAUTHORIZED, "Unauthorized worker"),
}

_CKPOOL: dict[ShareOutcome, str] = {
    ShareOutcome.UNKNOWN_JOB: "Invalid JobID",
    ShareOutcome.STALE: "Stale",
    ShareOutcome.DUPLICATE: "Duplicate",
    ShareOutcome.LOW_DIFFICULTY: "Above target",
    ShareOutcome.NTIME_OUT_OF_RANGE: "Ntime out of range",
    ShareOutcome.BAD_VERSION_BITS: "Invalid version mask",
    ShareOutcome.MALFORMED: "Invalid format",
    ShareOutcome.HARDWARE_ERROR: "Invalid format",
    ShareOutcome.UNAUTHORIZED: "Unauthorized worker",
}


def error_array(code: int, message: str) -> list[Any]:
    """public-pool's error value ``[code, message, null]``."""
    return [code, message, None]


def error_line(msg_id: JsonId, code: int, message: str) -> bytes:
    """An error answer to a non-share request (same shape in both styles)."""
    return encode_response(msg_id, None, error_array(code, message))


def reject_line(
    msg_id: JsonId, outcome: ShareOutcome, style: ErrorStyle, detail: str = ""
) -> bytes:
    """The answer to a rejected share in the pool's style."""
    if style is ErrorStyle.CKPOOL:
        return encode_response(msg_id, False, None, reject_reason=_CKPOOL[outcome])
    code, message = _PUBLIC_POOL[outcome]
    if detail and outcome in (ShareOutcome.MALFORMED, ShareOutcome.LOW_DIFFICULTY):
        message = f"{message}: {detail}"
    return encode_response(msg_id, None, error_array(code, message))


_CKPOOL_BACK = {v.lower(): k for k, v in _CKPOOL.items() if k is not ShareOutcome.HARDWARE_ERROR}
_WORDS = (
    ("duplicate", ShareOutcome.DUPLICATE),
    ("stale", ShareOutcome.STALE),
    ("job", ShareOutcome.UNKNOWN_JOB),
    ("low", ShareOutcome.LOW_DIFFICULTY),
    ("above target", ShareOutcome.LOW_DIFFICULTY),
    ("ntime", ShareOutcome.NTIME_OUT_OF_RANGE),
    ("version", ShareOutcome.BAD_VERSION_BITS),
    ("unauthorized", ShareOutcome.UNAUTHORIZED),
    ("not subscribed", ShareOutcome.UNAUTHORIZED),
)


def outcome_of_response(response: Response) -> ShareOutcome:
    """Client side: what a pool's answer to a submit means, whatever its error style
    (array, string, object or reject-reason). Unrecognised rejects read as MALFORMED."""
    if response.ok:
        return ShareOutcome.ACCEPTED
    if response.reject_reason is not None and response.reject_reason.lower() in _CKPOOL_BACK:
        return _CKPOOL_BACK[response.reject_reason.lower()]
    error = response.error
    code = None
    text = response.reject_reason or ""
    if isinstance(error, list) and error:
        code = error[0] if isinstance(error[0], int) else None
        text = str(error[1]) if len(error) > 1 else text
    elif isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), int) else None
        text = str(error.get("message", ""))
    elif isinstance(error, str):
        text = error
    lowered = text.lower()
    for word, outcome in _WORDS:
        if word in lowered:
            return outcome
    return {
        JOB_NOT_FOUND: ShareOutcome.UNKNOWN_JOB,
        DUPLICATE: ShareOutcome.DUPLICATE,
        LOW_DIFFICULTY: ShareOutcome.LOW_DIFFICULTY,
        UNAUTHORIZED: ShareOutcome.UNAUTHORIZED,
        NOT_SUBSCRIBED: ShareOutcome.UNAUTHORIZED,
    }.get(code or 0, ShareOutcome.MALFORMED)
