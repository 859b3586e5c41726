"""One device-URL parser and one host:port type for every backend and every command."""

from __future__ import annotations

import argparse

import pytest

from asic_bridge.errors import UrlError
from asic_bridge.models import SPECS
from asic_bridge.urls import (
    SCHEMES,
    host_port,
    host_port_default,
    model_choices,
    parse_device_url,
    parse_host_port,
)


def test_network_urls_default_ports_and_identity() -> None:
    url = parse_device_url("axeos://10.0.0.5?stratum=0.0.0.0:3333&difficulty=1e-3&period_s=1")
    assert (url.scheme, url.target, url.port) == ("axeos", "10.0.0.5", 80)
    assert url.options == {"stratum": ("0.0.0.0", 3333), "difficulty": 1e-3, "period_s": 1.0}
    assert url.device_id == "axeos://10.0.0.5:80"
    assert parse_device_url("cgminer://h").port == 4028
    assert parse_device_url("goldshell://h:8080?password=x").options == {"password": "x"}
    assert parse_device_url("emu://lv06?seed=3").options == {"seed": 3}
    serial = parse_device_url("serial://socket://127.0.0.1:5000?chip=bm1366&baud=115200")
    assert serial.target == "socket://127.0.0.1:5000" and serial.options["baud"] == 115200


@pytest.mark.parametrize("url", [
    "axeos://h?bogus=1", "cgminer://h?username=a", "emu://lv06?stratum=1.2.3.4:5",
    "serial:///dev/ttyUSB0?bogus=1", "goldshell://h?point_miner=1",
])
def test_every_backend_refuses_unknown_options_naming_them(url: str) -> None:
    key = url.rpartition("?")[2].partition("=")[0]
    with pytest.raises(UrlError, match=rf"unknown option '{key}'.*knows:"):
        parse_device_url(url)


@pytest.mark.parametrize(("url", "message"), [
    ("nope://h", "no device backend"), ("axeos://", "no host"), ("axeos://h:0", "outside"),
    ("axeos://h:99999", "port"), ("axeos://h?retries=-1", "bad value '-1' for 'retries'"),
    ("axeos://h?period_s=0", "period_s"), ("axeos://h?timeout_s=nan", "timeout_s"),
    ("axeos://h?retries=1&retries=2", "given twice"), ("emu://k7", "unknown model"),
    ("axeos://h?stratum=h:70000", "stratum"), ("axeos://h/api", "unexpected path"),
    ("lv06", "device URL"),
    ("serial:///dev/ttyUSB0?verify_difficulty=1e-5", "no longer taken: the driver verifies"),
    ("serial:///dev/ttyUSB0?job_interval_s=-1", "job_interval_s"),
])
def test_bad_urls_are_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(UrlError, match=message) as info:
        parse_device_url(url)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def test_serial_job_interval_zero_means_no_local_jobs() -> None:
    assert parse_device_url("serial://loop://?job_interval_s=0").option("job_interval_s") == 0.0


def test_host_port_type_validates_the_port() -> None:
    assert parse_host_port("127.0.0.1:3333") == ("127.0.0.1", 3333)
    assert parse_host_port(":3333") == ("127.0.0.1", 3333)
    assert parse_host_port("[::1]:8080") == ("::1", 8080)
    assert host_port_default(4028)("localhost") == ("localhost", 4028)
    for bad in ("127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999", "h:x", "h"):
        with pytest.raises(argparse.ArgumentTypeError):
            host_port(bad)
    assert host_port("h:65535") == ("h", 65535) and host_port("h:1") == ("h", 1)


def test_model_choices_come_from_the_model_table() -> None:
    assert model_choices() == sorted(SPECS)
    assert set(SCHEMES) == {"emu", "axeos", "cgminer", "goldshell", "serial"}


def test_commands_use_the_one_host_port_type() -> None:
    """`hashrc emulate` with a port out of range is a one-line argparse error (exit 2)."""
    from asic_bridge.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["emulate", "lv06", "--http", "127.0.0.1:99999"])
    assert exit_info.value.code == 2
    args = parser.parse_args(["emulate", "s9", "--cgminer", "127.0.0.1"])
    assert args.cgminer == ("127.0.0.1", 4028)
    with pytest.raises(SystemExit):
        parser.parse_args(["emulate", "k7", "--http", "127.0.0.1:8080"])
