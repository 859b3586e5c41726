"""Where the serial backend used to live in one module; kept so that
``asic_bridge.device.BACKENDS["serial"] = "asic_bridge.serial.driver:open_url"`` and old
imports work. The code is split by job:

* :mod:`asic_bridge.serial.chain`: :class:`ChainDriver` (bring-up, configuration, jobs);
* :mod:`asic_bridge.serial.reader`: the reader thread and the bounded register mailbox;
* :mod:`asic_bridge.serial.nonces`: nonce verification and the no-valid-nonce watchdog;
* :mod:`asic_bridge.serial.envelope`: the one clock check;
* :mod:`asic_bridge.serial.ticket`: ticket-difficulty encodings;
* :mod:`asic_bridge.serial.backend`: :class:`SerialDevice`, the ``serial://`` Device.
"""

from __future__ import annotations

from asic_bridge.serial.backend import SerialDevice, open_url, parse_url
from asic_bridge.serial.chain import ChainDriver

__all__ = ["ChainDriver", "SerialDevice", "open_url", "parse_url"]
