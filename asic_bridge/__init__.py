"""asic_bridge: talk to mining ASICs (real or emulated) and turn what they do into events.

The package is the base of hashrc: the event model (:mod:`asic_bridge.events`), the
Device interface (:mod:`asic_bridge.device`), the device models' safe envelopes
(:mod:`asic_bridge.models`) and the crash-safe capture store
(:mod:`asic_bridge.capture`). Protocol codecs live in sub-packages named after the
protocol (``stratum``, ``serial``, ``api``) and never touch a socket themselves.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hashrc")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
