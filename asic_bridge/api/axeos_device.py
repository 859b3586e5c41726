"""``axeos://HOST[:PORT]``: an ESP-Miner board (BitAxe, Lucky Miner LV06) through its
HTTP API (AxeOS), polled every 2 s by default.

Why 2 s: the firmware recomputes its info object every few seconds; faster polling
mostly repeats values and loads the ESP32's small web server.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from asic_bridge.api import axeos
from asic_bridge.api.polling import PollingDevice, backend_kwargs
from asic_bridge.api.readings import Reading
from asic_bridge.api.transport import HttpJsonClient
from asic_bridge.errors import PoolError, UrlError
from asic_bridge.events import ControlEvent
from asic_bridge.models import spec_for


class AxeOSDevice(PollingDevice):
    """An ESP-Miner board through its HTTP API.

    ``frequency`` (MHz) and ``core_voltage`` (mV) are PATCHed and take effect after the
    restart the firmware needs, which this backend requests and waits for; the control
    event then carries the value the device reports. ``fan`` (%) is PATCHed with
    automatic fan control off and applies at once.
    """

    API_KNOBS: ClassVar[tuple[str, ...]] = ("core_voltage", "fan", "frequency")
    RESTART_KNOBS: ClassVar[frozenset[str]] = frozenset({"frequency", "core_voltage"})
    restart_settle_s: float = 30.0
    """Restart and settle of ESP-Miner after a clock or voltage PATCH, s (an estimate,
    not a measurement here: ESP32 reboot ~1 s, WiFi association and DHCP a few s, ASIC
    init, pool connect and first job, then the hashrate window of the firmware; public
    AxeOS users report the board back on its pool 15-30 s after a restart).
    ``measured_restart_s`` holds the last restart this backend observed."""

    def __init__(self, *, host: str, port: int = axeos.DEFAULT_PORT, **kwargs: Any) -> None:
        kwargs.setdefault("spec", spec_for("lv06"))
        kwargs.setdefault("period_s", 2.0)
        kwargs.setdefault("device_id", f"axeos://{host}:{port}")
        self._http = HttpJsonClient(host, port, timeout_s=kwargs.get("timeout_s", 3.0))
        super().__init__(host=host, port=port, **kwargs)

    def system_info(self) -> dict[str, Any]:
        """``GET /api/system/info`` decoded."""
        return self._http.get_json(axeos.INFO_PATH)

    def _poll(self) -> list[Reading]:
        info = self.system_info()
        if not self.info.serial:
            ident = axeos.identity(info)
            self._set_identity(
                serial=ident.mac or ident.hostname,
                firmware=ident.version,
                extra={"asic_model": ident.asic_model, "miner_model": ident.miner_model,
                       "hostname": ident.hostname},
            )
        return axeos.parse_info(info)

    def point_miner(self, host: str, port: int) -> None:
        """PATCH ``stratumURL``/``stratumPort`` to ``host:port`` and restart, so the
        miner mines on our pool. Only when asked (``?point_miner=1``): never silently."""
        if host in ("0.0.0.0", "::", ""):
            raise PoolError(
                f"{self.info.device_id}: point_miner needs the address the miner can reach; "
                f"the pool listens on all interfaces ({host}): give ?stratum=YOUR_IP:{port}")
        body = json.dumps({"stratumURL": host, "stratumPort": port}).encode()
        self._with_retries(lambda: self._http.request("PATCH", axeos.SYSTEM_PATH, body))
        self._with_retries(lambda: self._http.request("POST", axeos.RESTART_PATH, b""))
        self._count("restarts")

    def _apply_api_knob(self, knob: str, value: float) -> ControlEvent:
        if knob == "fan":
            body = axeos.patch_body(fan_pct=value)
            self._with_retries(lambda: self._http.request("PATCH", axeos.SYSTEM_PATH, body))
            applied = axeos.parse_info(self.system_info())
            fan = next((r.value for r in applied if r.quantity == "fan_duty"), round(value))
            return self._record_control(knob, fan, "%", value)
        if knob == "frequency":
            body, key, unit = axeos.patch_body(frequency_mhz=value), "frequency", "MHz"
        else:
            body, key, unit = axeos.patch_body(core_voltage_mv=value), "coreVoltage", "mV"
        target = round(value)
        started = time.monotonic()
        self._with_retries(lambda: self._http.request("PATCH", axeos.SYSTEM_PATH, body))
        self._with_retries(lambda: self._http.request("POST", axeos.RESTART_PATH, b""))
        seen: dict[str, float] = {}

        def applied() -> bool:
            info = self.system_info()
            seen["value"] = float(info.get(key, float("nan")))
            return seen["value"] == target

        self._wait_until(f"{knob} {target} {unit} after restart", applied)
        self._restarted(started)
        return self._record_control(knob, seen["value"], unit, value)


def open_axeos(url: str, **kwargs: Any) -> AxeOSDevice:
    """Open ``axeos://HOST[:PORT][?model=lv06&period_s=2&timeout_s=3&retries=2]``, with
    ``&stratum=LISTEN_HOST:PORT[&difficulty=D&worker=W&connect_timeout_s=S&point_miner=1]``
    for the pool its miner mines on. Polls once first (DeviceUnreachable naming the URL
    and the cause); with a pool, waits for the miner (MinerNotConnected)."""
    options, pool = backend_kwargs(url, "axeos", kwargs)
    start = bool(options.pop("start", True))
    point = bool(options.pop("point_miner", False))
    if point and "stratum" not in pool:
        raise UrlError(f"point_miner=1 needs ?stratum=HOST:PORT in {url!r}")
    device = AxeOSDevice(**options, start=False)
    before = None
    if point:
        def before() -> None:
            assert device.pool is not None
            device.point_miner(*device.pool.address)
    device.open_checked(url, before_wait=before, start=start, **pool)
    return device
