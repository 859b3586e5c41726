"""``cgminer://HOST[:4028]``: a cgminer-family API (Antminer S9 bmminer by default),
polled every 5 s (its shortest hashrate window is "GHS 5s")."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from asic_bridge.api import cgminer
from asic_bridge.api.polling import PollingDevice, backend_kwargs
from asic_bridge.api.readings import Reading
from asic_bridge.api.transport import tcp_request
from asic_bridge.events import ControlEvent
from asic_bridge.models import spec_for


class CgminerDevice(PollingDevice):
    """A cgminer-family API on TCP 4028.

    Polls ``summary+stats+devs`` in one request. Knobs use cgminer's ``ascset`` write
    command (``0,freq,<MHz>``, ``0,volt,<mV>``, ``0,fan,<%>``; needs api-allow W) and a
    ``restart`` for clock and voltage; stock bmminer refuses ``ascset``, which surfaces
    as :class:`~asic_bridge.api.cgminer.CommandRefused`.
    """

    POLL_COMMANDS = ("summary", "stats", "devs")
    API_KNOBS: ClassVar[tuple[str, ...]] = ("core_voltage", "fan", "frequency")
    RESTART_KNOBS: ClassVar[frozenset[str]] = frozenset({"frequency", "core_voltage"})
    restart_settle_s: float = 90.0
    """Restart and settle of bmminer after a clock or voltage change, s (an estimate:
    the restart re-enumerates three chains of 63 chips, tunes them and reconnects the
    pool; S9 owners report about a minute before hashing resumes, then the 5 s window)."""

    def __init__(self, *, host: str, port: int = cgminer.DEFAULT_PORT, **kwargs: Any) -> None:
        kwargs.setdefault("spec", spec_for("s9"))
        kwargs.setdefault("period_s", 5.0)
        kwargs.setdefault("device_id", f"cgminer://{host}:{port}")
        super().__init__(host=host, port=port, **kwargs)

    def command(self, commands: str | tuple[str, ...], parameter: str | None = None
                ) -> dict[str, dict[str, Any]]:
        """Send one (or a ``+``-joined) command; per-command replies, STATUS checked."""
        names = [commands] if isinstance(commands, str) else list(commands)
        names = [n for name in names for n in name.split("+")]
        data = tcp_request(self.host, self.port, cgminer.encode_request(names, parameter),
                           timeout_s=self.timeout_s)
        replies = cgminer.split_replies(cgminer.decode_reply(data), names)
        for name, reply in replies.items():
            cgminer.check_status(reply, name)
        return replies

    def _poll(self) -> list[Reading]:
        replies = self.command(self.POLL_COMMANDS)
        out = cgminer.parse_summary(replies["summary"])
        stats = cgminer.parse_stats(replies["stats"])
        out.extend(stats)
        if not any(r.quantity == "chain_hashrate" for r in stats):
            out.extend(cgminer.parse_devs(replies["devs"]))
        if not self.info.serial:
            info = cgminer.stats_info(replies["stats"])
            status = replies["stats"].get("STATUS", [{}])
            first = status[0] if isinstance(status, list) and status else {}
            self._set_identity(
                serial=f"{self.host}:{self.port}",
                firmware=str(first.get("Description", "")) if isinstance(first, dict) else "",
                extra={"miner_type": info.miner_type or "",
                       "chain_slots": ",".join(map(str, info.chain_slots))},
            )
        return out

    def _frequency(self) -> float | None:
        readings = cgminer.parse_stats(self.command("stats")["stats"])
        return next((r.value for r in readings if r.quantity == "frequency"), None)

    def _apply_api_knob(self, knob: str, value: float) -> ControlEvent:
        option = {"frequency": "freq", "core_voltage": "volt", "fan": "fan"}[knob]
        unit = {"frequency": "MHz", "core_voltage": "mV", "fan": "%"}[knob]
        target = round(value)
        started = time.monotonic()
        self._with_retries(lambda: self.command("ascset", f"0,{option},{target}"))
        if knob == "fan":
            return self._record_control(knob, target, unit, value)
        self._with_retries(lambda: self.command("restart"))
        if knob == "frequency":
            seen: dict[str, float | None] = {}

            def applied() -> bool:
                seen["value"] = self._frequency()
                return seen["value"] == target

            self._wait_until(f"frequency {target} MHz after restart", applied)
            self._restarted(started)
            return self._record_control(knob, float(seen["value"] or target), unit, value)
        self._wait_until("API back after restart", lambda: bool(self.command("summary")))
        self._restarted(started)
        return self._record_control(knob, target, unit, value)


def open_cgminer(url: str, **kwargs: Any) -> CgminerDevice:
    """Open ``cgminer://HOST[:4028][?model=s9&period_s=5&timeout_s=3&retries=2]``, with
    ``&stratum=LISTEN_HOST:PORT[&difficulty=D&worker=W&connect_timeout_s=S]`` for the
    pool its miner mines on (point the miner there yourself: bmminer's pool settings are
    not written by hashrc)."""
    options, pool = backend_kwargs(url, "cgminer", kwargs)
    start = bool(options.pop("start", True))
    device = CgminerDevice(**options, start=False)
    device.open_checked(url, start=start, **pool)
    return device
