"""``goldshell://HOST[:PORT]``: a Goldshell miner (LB-Box) through its web API, polled
every 5 s (the cgminer-derived 5 s window behind ``/mcb/cgminer``)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from asic_bridge.api import goldshell
from asic_bridge.api.polling import PollingDevice, backend_kwargs
from asic_bridge.api.readings import Reading, json_object, reading
from asic_bridge.api.transport import HttpJsonClient
from asic_bridge.errors import DeviceError, HttpStatusError
from asic_bridge.events import ControlEvent
from asic_bridge.models import spec_for


class GoldshellDevice(PollingDevice):
    """A Goldshell miner through its web API.

    Logs in for a JWT (again after a 401), polls ``/mcb/cgminer?cgminercmd=devs`` and
    ``/mcb/setting`` (the selected power plan gives ``frequency`` and ``core_voltage``).
    ``frequency`` selects the power plan with the nearest clock (the control event's value
    is that plan's clock); ``fan`` (%) sets a manual fan duty; the core voltage follows
    the plan and is no knob of its own.
    """

    API_KNOBS: ClassVar[tuple[str, ...]] = ("fan", "frequency")
    RESTART_KNOBS: ClassVar[frozenset[str]] = frozenset({"frequency"})
    restart_settle_s: float = 30.0
    """Settle time after a power-plan change, s (an estimate: Goldshell does not publish
    it; the firmware restarts its mining process to apply a plan)."""

    def __init__(
        self,
        *,
        host: str,
        port: int = goldshell.DEFAULT_PORT,
        username: str = "admin",
        password: str = "123456789",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("spec", spec_for("lbbox"))
        kwargs.setdefault("period_s", 5.0)
        kwargs.setdefault("device_id", f"goldshell://{host}:{port}")
        self._http = HttpJsonClient(host, port, timeout_s=kwargs.get("timeout_s", 3.0))
        self._username = username
        self._password = password
        self._token: str | None = None
        self._token_lock = threading.Lock()
        super().__init__(host=host, port=port, **kwargs)

    def _login(self) -> str:
        doc = self._http.get_json(goldshell.login_path(self._username, self._password))
        return goldshell.parse_login(doc)

    def _authed(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        for attempt in range(2):
            with self._token_lock:
                if self._token is None:
                    self._token = self._login()
                token = self._token
            try:
                data = self._http.request(method, path, body, goldshell.auth_header(token))
            except HttpStatusError as exc:
                if exc.status == 401 and attempt == 0:
                    with self._token_lock:
                        self._token = None
                    continue
                raise
            return json_object(data, what=f"{method} {path}") if data.strip() else {}
        raise DeviceError(f"{self.info.device_id}: login not accepted")

    def status(self) -> dict[str, Any]:
        """``GET /mcb/status`` (no token needed)."""
        return self._http.get_json(goldshell.STATUS_PATH)

    def _poll(self) -> list[Reading]:
        if not self.info.serial:
            status = goldshell.parse_status(self.status())
            self._set_identity(
                serial=status.get("serial", status.get("sn", "")) or f"{self.host}:{self.port}",
                firmware=status.get("firmware", ""),
                extra={"model": status.get("model", "")},
            )
        out = goldshell.parse_devs(self._authed("GET", goldshell.DEVS_PATH))
        plans, select = goldshell.parse_setting(self._authed("GET", goldshell.SETTING_PATH))
        plan = plans[select]
        if plan.freq_mhz is not None:
            out.append(reading("frequency", plan.freq_mhz))
        if plan.volt_mv is not None:
            out.append(reading("core_voltage", plan.volt_mv))
        return out

    def _apply_api_knob(self, knob: str, value: float) -> ControlEvent:
        setting = self._with_retries(lambda: self._authed("GET", goldshell.SETTING_PATH))
        if knob == "frequency":
            plans, _ = goldshell.parse_setting(setting)
            index = goldshell.nearest_plan(plans, value)
            body = goldshell.setting_body(setting, select=index)
            self._with_retries(lambda: self._authed("PUT", goldshell.SETTING_PATH, body))
            plans, select = goldshell.parse_setting(self._authed("GET", goldshell.SETTING_PATH))
            if select != index:
                raise DeviceError(f"{self.info.device_id}: power plan {index} not applied")
            return self._record_control(knob, plans[select].freq_mhz or value, "MHz", value)
        body = goldshell.setting_body(setting, fan_pct=value)
        self._with_retries(lambda: self._authed("PUT", goldshell.SETTING_PATH, body))
        return self._record_control(knob, round(value), "%", value)


def open_goldshell(url: str, **kwargs: Any) -> GoldshellDevice:
    """Open ``goldshell://HOST[:PORT][?model=lbbox&password=...&period_s=5]``, with
    ``&stratum=LISTEN_HOST:PORT[&difficulty=D&worker=W&connect_timeout_s=S]`` for the
    pool its miner mines on."""
    options, pool = backend_kwargs(url, "goldshell", kwargs)
    start = bool(options.pop("start", True))
    device = GoldshellDevice(**options, start=False)
    device.open_checked(url, start=start, **pool)
    return device
