"""Device backends over the management APIs, opened by URL (one module each).

=====================================  =========================================  ============
URL                                    module                                     default
=====================================  =========================================  ============
``axeos://HOST[:PORT]``                :mod:`asic_bridge.api.axeos_device`        lv06, 2 s
``cgminer://HOST[:PORT]`` (4028)       :mod:`asic_bridge.api.cgminer_device`      s9, 5 s
``goldshell://HOST[:PORT]``            :mod:`asic_bridge.api.goldshell_device`    lbbox, 5 s
=====================================  =========================================  ============

Their shared base (poller thread, failure accounting, the pool of the device's miner) is
:mod:`asic_bridge.api.polling`; URL options are parsed by :mod:`asic_bridge.urls`. This
module only re-exports them for existing imports.
"""

from __future__ import annotations

from asic_bridge.api.axeos_device import AxeOSDevice, open_axeos
from asic_bridge.api.cgminer_device import CgminerDevice, open_cgminer
from asic_bridge.api.goldshell_device import GoldshellDevice, open_goldshell
from asic_bridge.api.polling import PollingDevice

__all__ = [
    "AxeOSDevice",
    "CgminerDevice",
    "GoldshellDevice",
    "PollingDevice",
    "open_axeos",
    "open_cgminer",
    "open_goldshell",
]
