"""The one device-URL parser and the one ``host:port`` argument type.

Every backend (``emu``, ``axeos``, ``cgminer``, ``goldshell``, ``serial``) parses its URL
here, so every backend rejects an unknown or repeated option the same way, with one line
that names the option, the URL and the options the scheme knows:

=========================================================  ==================================
URL                                                        options
=========================================================  ==================================
``emu://MODEL``                                            serial, seed, difficulty, dt_s,
                                                           warm_up_s
``axeos://HOST[:80]``                                      API, pool options, point_miner
``cgminer://HOST[:4028]``                                  API and pool options
``goldshell://HOST[:80]``                                  API and pool options, username,
                                                           password
``serial://PATH``  (PATH may be a pyserial URL)            chip, model, baud, fast_baud,
                                                           ticket_difficulty, ...
=========================================================  ==================================

API options: ``model``, ``period_s`` (poll period, s), ``timeout_s`` (deadline of one
request, s), ``retries``, ``restart_timeout_s`` (s). Pool options (the device owns the
Stratum pool its miner connects to, see :mod:`asic_bridge.miner_pool`): ``stratum``
(``LISTEN_HOST:PORT``), ``difficulty`` (initial share difficulty), ``worker`` (only the
sessions whose user is this name are the device's miner; default: the first authorised
user), ``connect_timeout_s`` (how long opening waits for the miner, s).

Nothing here imports a backend: the CLI can validate a URL before anything is opened.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from asic_bridge.errors import UrlError
from asic_bridge.models import SPECS

# -- value types ---------------------------------------------------------------------------


def parse_host_port(
    text: str, *, default_port: int | None = None, allow_zero: bool = False
) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[V6]:PORT``; ``:PORT`` means 127.0.0.1) as (host, port).

    The port must lie in 1-65535 (0, "any free port", only with ``allow_zero``). Without
    a port, ``default_port`` is used when given. Raises :class:`UrlError`."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):  # no port, or bare IPv6
        if default_port is None:
            raise UrlError(f"expected HOST:PORT, got {text!r}")
        host, port_text = text, str(default_port)
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise UrlError(f"bad port {port_text!r} in {text!r}: give a number 1-65535") from None
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        raise UrlError(f"port {port} in {text!r} is outside {low}-65535")
    return host, port


def host_port(text: str) -> tuple[str, int]:
    """argparse ``type=`` for ``HOST:PORT`` (port 1-65535)."""
    try:
        return parse_host_port(text)
    except UrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def host_port_default(default_port: int) -> Callable[[str], tuple[str, int]]:
    """argparse ``type=`` for ``HOST[:PORT]`` with ``default_port`` when none is given."""

    def parse(text: str) -> tuple[str, int]:
        try:
            return parse_host_port(text, default_port=default_port)
        except UrlError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "host_port"  # argparse names the type in its error message
    return parse


def model_choices() -> list[str]:
    """Model names for CLI ``choices=``, from :data:`asic_bridge.models.SPECS`."""
    return sorted(SPECS)


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("must be a positive finite number")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError("must be a finite number >= 0")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 1 or 0")


def _model(text: str) -> str:
    name = text.strip().lower()
    if name not in SPECS:
        raise ValueError(f"unknown model; known: {', '.join(sorted(SPECS))}")
    return name


def _listen(text: str) -> tuple[str, int]:
    return parse_host_port(text, allow_zero=True)


def _text(text: str) -> str:
    if not text or len(text) > 256:
        raise ValueError("must be 1-256 characters")
    return text


Converter = Callable[[str], Any]

API_OPTIONS: dict[str, Converter] = {
    "model": _model,
    "period_s": _positive,
    "timeout_s": _positive,
    "retries": _non_negative_int,
    "restart_timeout_s": _positive,
}
POOL_OPTIONS: dict[str, Converter] = {
    "stratum": _listen,
    "difficulty": _positive,
    "worker": _text,
    "connect_timeout_s": _positive,
}
"""Options of a device that owns the Stratum pool its miner connects to."""


@dataclass(frozen=True, slots=True)
class Scheme:
    """How one URL scheme is laid out: ``kind`` is ``host`` (``HOST[:PORT]``), ``model``
    (``emu://MODEL``) or ``path`` (``serial://PATH``)."""

    kind: str
    options: Mapping[str, Converter]
    default_port: int | None = None


SCHEMES: dict[str, Scheme] = {
    "emu": Scheme("model", {"serial": _text, "seed": int, "difficulty": _positive,
                            "dt_s": _positive, "warm_up_s": float}),
    "axeos": Scheme("host", {**API_OPTIONS, **POOL_OPTIONS, "point_miner": _flag}, 80),
    "cgminer": Scheme("host", {**API_OPTIONS, **POOL_OPTIONS}, 4028),
    "goldshell": Scheme("host", {**API_OPTIONS, **POOL_OPTIONS, "username": _text,
                                 "password": str}, 80),
    "serial": Scheme("path", {
        "chip": str, "model": _model, "baud": int, "fast_baud": _flag,
        "ticket_difficulty": _positive,
        "frequency_mhz": _positive, "expected_chips": int, "job_interval_s": _non_negative,
        "reconnect_timeout_s": _positive,
    }),
}
"""Every device URL scheme and its options (name -> converter from the query text).
``serial``'s ``job_interval_s`` 0 means no local jobs (the chips hash only the jobs a
caller sends with ``driver.send_job``)."""

REMOVED_OPTIONS: dict[str, dict[str, str]] = {
    "serial": {"verify_difficulty": "the driver verifies every nonce at the ticket "
                                    "difficulty it writes itself; drop the option"},
}
"""Options a scheme no longer takes -> why (a URL carrying one gets that line)."""


@dataclass(frozen=True, slots=True)
class DeviceUrl:
    """A parsed device URL. ``target`` is the model (``emu``), the pyserial port
    (``serial``) or the host (network schemes); ``port`` is set for network schemes;
    ``options`` holds the converted query values."""

    raw: str
    scheme: str
    target: str
    port: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        """The device's identity in every event row: ``scheme://host:port`` for network
        devices (the same for its shares and its telemetry), ``scheme://target`` else."""
        if self.port is not None:
            host = f"[{self.target}]" if ":" in self.target else self.target
            return f"{self.scheme}://{host}:{self.port}"
        return f"{self.scheme}://{self.target}"

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def parse_device_url(url: str, *, scheme: str | None = None) -> DeviceUrl:
    """Parse and check a device URL (see the module docstring). ``scheme``, when given,
    must match. Raises :class:`~asic_bridge.errors.UrlError` with one clear line."""
    if not isinstance(url, str) or "://" not in url:
        raise UrlError(f"expected a device URL like 'axeos://HOST' or 'emu://lv06', got {url!r}")
    name, _, rest = url.partition("://")
    name = name.lower()
    layout = SCHEMES.get(name)
    if layout is None:
        raise UrlError(f"no device backend for {url!r}; schemes: {', '.join(sorted(SCHEMES))}")
    if scheme is not None and name != scheme:
        raise UrlError(f"expected a {scheme}:// URL, got {url!r}")
    if layout.kind == "path":  # the path may itself hold '://' and ':' (pyserial URLs)
        target, _, query = rest.rpartition("?") if "?" in rest else (rest, "", "")
        port = None
        if not target:
            raise UrlError(f"no port path in {url!r}")
    else:
        parts = urlsplit(url)
        query = parts.query
        if layout.kind == "model":
            target = (parts.netloc or parts.path.strip("/")).lower()
            port = None
            if target not in SPECS:
                raise UrlError(f"unknown model {target!r} in {url!r}; models: "
                               f"{', '.join(sorted(SPECS))}")
        else:
            if parts.path not in ("", "/"):
                raise UrlError(f"unexpected path {parts.path!r} in {url!r}; "
                               f"expected {name}://HOST[:PORT][?options]")
            try:
                target, port = parts.hostname, parts.port
            except ValueError:
                raise UrlError(f"bad port in {url!r}: give a number 1-65535") from None
            if not target:
                raise UrlError(f"no host in {url!r}; expected {name}://HOST[:PORT]")
            if port is None:
                port = layout.default_port
            if port is None or not 1 <= port <= 65535:
                raise UrlError(f"port {port} in {url!r} is outside 1-65535")
    options: dict[str, Any] = {}
    for key, text in parse_qsl(query, keep_blank_values=True):
        convert = layout.options.get(key)
        gone = REMOVED_OPTIONS.get(name, {}).get(key)
        if gone is not None:
            raise UrlError(f"option {key!r} in {url!r} is no longer taken: {gone}")
        if convert is None:
            raise UrlError(f"unknown option {key!r} in {url!r}; {name}:// knows: "
                           f"{', '.join(sorted(layout.options))}")
        if key in options:
            raise UrlError(f"option {key!r} given twice in {url!r}")
        try:
            options[key] = convert(text)
        except (ValueError, UrlError) as exc:
            raise UrlError(f"bad value {text!r} for {key!r} in {url!r}: {exc}") from None
    return DeviceUrl(raw=url, scheme=name, target=target, port=port, options=options)
