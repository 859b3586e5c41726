"""The exception tree of asic_bridge: one root, a few meaningful subclasses.

Bad arguments raise ``ValueError`` (or a subclass of it); a pool's reject of a share is
a value (:class:`asic_bridge.events.ShareOutcome`), never an exception.
"""


class BridgeError(Exception):
    """Root of every error raised by asic_bridge on purpose."""


class EnvelopeError(BridgeError, ValueError):
    """A clock or voltage command lies outside the device model's safe envelope."""


class UnknownKnobError(BridgeError, ValueError):
    """A knob the device does not have, or a value given in the wrong unit."""


class CaptureError(BridgeError):
    """A capture file cannot be opened, written or read as a hashrc capture."""


class DeviceError(BridgeError):
    """A device stopped answering, answered nonsense, or closed its link."""


class ProtocolError(BridgeError, ValueError):
    """Bytes or a message that break a protocol's rules (a malformed line or frame)."""


class LeakageError(BridgeError, ValueError):
    """An evaluation would use a feature computed after the abort point or from the label."""


class UrlError(BridgeError, ValueError):
    """A device URL that cannot be parsed: unknown scheme, unknown or repeated option,
    a value of the wrong type, a port outside 1-65535."""


class DeviceTimeout(DeviceError, TimeoutError):
    """A device (or its miner) did not answer within the deadline. Also a
    :class:`TimeoutError`, so ``except TimeoutError`` catches it."""


class LinkError(DeviceError):
    """A connection was refused, reset or closed before a full reply, or the reply was
    larger than the bound."""


class HttpStatusError(DeviceError):
    """An HTTP reply with a status outside 2xx; ``status`` holds it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class DeviceUnreachable(DeviceError):
    """A device URL whose device did not answer when it was opened; the message names the
    URL and the cause."""


class PoolError(DeviceError):
    """The Stratum pool a device owns cannot run (e.g. its listen port is in use)."""


class MinerNotConnected(DeviceTimeout):
    """No miner connected and authorised to a device's Stratum pool within the timeout."""


class CommandRefused(DeviceError):
    """A cgminer-family API answered a command with STATUS ``E`` or ``F`` (unknown
    command, no write access, bad parameter). ``code`` and ``msg`` are the firmware's."""

    def __init__(self, command: str, code: int | None, msg: str) -> None:
        super().__init__(f"{command}: refused by the miner API (code {code}): {msg}")
        self.command = command
        self.code = code
        self.msg = msg


class NotRunning(BridgeError, RuntimeError):
    """A service (a pool server, the hash workers) used before it started or after it
    stopped. Also a :class:`RuntimeError`."""


class UnknownSession(BridgeError, LookupError):
    """A pool session id that is not (or no longer) open."""
