"""Management-API codecs and Device backends: cgminer/bmminer TCP 4028, AxeOS HTTP,
Goldshell HTTP.

Layout (protocol apart from transport):

* :mod:`asic_bridge.api.readings` - the :class:`Reading` value every codec yields
  (quantity, value, unit, chip) and the table of quantities and units;
* :mod:`asic_bridge.api.cgminer`, :mod:`asic_bridge.api.axeos`,
  :mod:`asic_bridge.api.goldshell` - sans-IO codecs: build requests, parse replies
  (bytes or decoded JSON) into readings; never touch a socket;
* :mod:`asic_bridge.api.transport` - thin blocking pumps (one TCP request per
  connection, small HTTP/JSON client) that turn I/O failures into
  :class:`~asic_bridge.errors.DeviceError`;
* :mod:`asic_bridge.api.polling` - the base of the API backends: poller thread, failed
  polls as status events, the Stratum pool of the device's miner (``?stratum=``);
* :mod:`asic_bridge.api.axeos_device`, :mod:`asic_bridge.api.cgminer_device`,
  :mod:`asic_bridge.api.goldshell_device` - one :class:`~asic_bridge.device.Device`
  backend each, opened by URL (``axeos://``, ``cgminer://``, ``goldshell://``);
  :mod:`asic_bridge.api.backends` re-exports them;
* :mod:`asic_bridge.api.pyasic_support` - optional detection through pyasic (imported
  only when called).

Nothing here is imported at package import time.
"""
