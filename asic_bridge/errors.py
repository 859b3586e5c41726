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
