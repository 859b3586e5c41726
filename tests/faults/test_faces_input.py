"""The emulator faces check their input as the firmware does and never break: after any
bad setting and a restart, the status endpoints still answer valid JSON (loopback only).

AxeOS follows ESP-Miner's settings table, cgminer's ``ascset`` follows ``api.c``; see the
faces' docstrings for the sources."""

from __future__ import annotations

import http.client
import json
import math
import socket
import time

import pytest

from asic_bridge.api import cgminer
from emulator.faces import StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import MAX_BODY, AxeOSFace
from emulator.live import LiveEmulator


def request(face: AxeOSFace | GoldshellFace, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(face.host, face.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def info_after_restart(face: AxeOSFace) -> dict:
    """POST restart, wait out the reboot, GET info: must be one JSON object, every number
    finite."""
    assert request(face, "POST", "/api/system/restart")[0] == 200
    deadline = time.monotonic() + 5.0
    while True:
        try:
            status, data = request(face, "GET", "/api/system/info")
            break
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert status == 200
    doc = json.loads(data, parse_constant=lambda c: pytest.fail(f"{c} in info"))
    assert isinstance(doc, dict)
    assert all(math.isfinite(v) for v in doc.values() if isinstance(v, float))
    return doc


PATCHES = [  # (body, expected status, stored frequency or None)
    (b'{"frequency": 2000}', 200, 2000.0),  # in [1, 65535]: ESP-Miner stores it
    (b'{"frequency": 5000}', 200, 5000.0),
    (b'{"frequency": -50}', 400, None),
    (b'{"frequency": 0}', 400, None),
    (b'{"frequency": 65536}', 400, None),
    (b'{"frequency": NaN}', 400, None),  # not JSON for cJSON
    (b'{"frequency": Infinity}', 400, None),
    (b'{"frequency": 1e308}', 400, None),
    (b'{"frequency": "550"}', 400, None),
    (b'{"frequency": true}', 400, None),
    (b'{"frequency": null}', 400, None),
    (b'{"frequency": 550, "coreVoltage": -1}', 400, None),  # all or nothing
    (b'{"frequency": 550, "fanspeed": 101}', 400, None),
    (b'{"frequency": 550, "temptarget": 90}', 400, None),
    (b'{"frequency": 550, "overheat_mode": 1}', 400, None),
    (b'{"frequency": 550, "stratumPort": 70000}', 400, None),
    (b'{"frequency": 550, "hostname": ""}', 400, None),
    (b'{"frequency": 550.5, "noSuchSetting": [1, 2]}', 200, 550.5),  # unknown key ignored
    (b'[1, 2]', 200, None),  # parses; no setting in it
    (b'{"frequency": ', 400, None),
    (b'\xff\xfe', 400, None),
    (b'[' * 50_00 + b']' * 50_00, 400, None),  # under MAX_BODY, too deep for json
]


@pytest.mark.parametrize(("body", "status", "stored"), PATCHES,
                         ids=[p[0][:30].decode("latin-1") for p in PATCHES])
def test_axeos_patch_checks_like_esp_miner_and_survives_a_restart(
        body: bytes, status: int, stored: float | None) -> None:
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, port=0, restart_s=0.05) as face:
        got, _ = request(face, "PATCH", "/api/system", body,
                      {"Content-Type": "application/json"})
        assert got == status
        expected = stored if stored is not None else 485.0
        assert face.firmware.stored("frequency_mhz", 485.0) == expected
        assert "noSuchSetting" not in face.settings
        doc = info_after_restart(face)
        assert doc["frequency"] == expected  # what NVS holds, as GET_system_info reports
        assert 42 < source.frequency_mhz <= 2938  # what the PLL search made of it


def test_axeos_boot_runs_the_pll_clock_or_its_200_mhz_fallback() -> None:
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, port=0, restart_s=0.05) as face:
        for asked, runs in ((2000, 2000.0), (5000, 200.0), (65535, 200.0), (1, 200.0)):
            assert request(face, "PATCH", "/api/system", json.dumps({"frequency": asked}).encode()
                        )[0] == 200
            info_after_restart(face)
            assert source.frequency_mhz == pytest.approx(runs, abs=1.0), asked
        # TPS546 range 1-3 V: 65535 mV is stored but the regulator refuses it
        assert request(face, "PATCH", "/api/system", b'{"coreVoltage": 65535}')[0] == 200
        info_after_restart(face)
        assert source.core_voltage_mv == 1200.0


def test_axeos_body_too_long_or_bad_length_is_refused_unread() -> None:
    with AxeOSFace(StaticSnapshotSource(), port=0) as face:
        assert request(face, "PATCH", "/api/system", b" " * MAX_BODY)[0] == 500
        with socket.create_connection((face.host, face.port), timeout=5) as sock:
            sock.sendall(b"PATCH /api/system HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
        assert request(face, "GET", "/api/system/info")[0] == 200


def test_axeos_info_stays_valid_json_when_the_model_returns_nan() -> None:
    source = StaticSnapshotSource.for_model("lv06")
    source.chip_temp_c = float("nan")
    source.power_w = float("inf")
    with AxeOSFace(source, port=0) as face:
        status, data = request(face, "GET", "/api/system/info")
        assert status == 200
        doc = json.loads(data, parse_constant=lambda c: pytest.fail(f"{c} in info"))
        assert doc["temp"] is None


def ascset(face: CgminerFace, parameter: str | None) -> dict:
    with socket.create_connection((face.host, face.port), timeout=5) as sock:
        sock.sendall(cgminer.encode_request("ascset", parameter))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return cgminer.decode_reply(data)["STATUS"][0]


ASCSETS = [  # (parameter, STATUS, Code, stored frequency or None)
    ("0,freq,700", "S", 119, 700.0),
    ("0,freq,700.9", "S", 119, 700.0),  # atoi
    ("0,freq,5000", "E", 120, None),
    ("0,freq,2000", "E", 120, None),
    ("0,freq,-50", "E", 120, None),
    ("0,freq,nan", "E", 120, None),  # atoi("nan") = 0
    ("0,freq,1e308", "E", 120, None),  # atoi("1e308") = 1
    ("0,freq,abc", "E", 120, None),
    ("0,freq,", "E", 120, None),
    ("0,volt,99999", "E", 120, None),
    ("0,fan,101", "E", 120, None),
    ("0,warp,9", "E", 120, None),
    ("0,help", "I", 118, None),
    ("7,freq,700", "E", 107, None),
    ("-1,freq,700", "E", 107, None),
    ("0", "E", 116, None),
    (None, "E", 15, None),
]


@pytest.mark.parametrize(("parameter", "status", "code", "stored"), ASCSETS,
                         ids=[str(a[0]) for a in ASCSETS])
def test_cgminer_ascset_answers_like_cgminer(parameter: str | None, status: str, code: int,
                                             stored: float | None) -> None:
    source = StaticSnapshotSource.for_model("s9")
    with CgminerFace(source, port=0, restart_s=0.05) as face:
        reply = ascset(face, parameter)
        assert (reply["STATUS"], reply["Code"]) == (status, code), reply["Msg"]
        assert face.firmware.stored("frequency_mhz", 650.0) == (stored or 650.0)


def test_stock_bmminer_does_not_support_ascset_and_the_client_says_so() -> None:
    with CgminerFace(StaticSnapshotSource.for_model("s9"), port=0, ascset=False) as face:
        reply = ascset(face, "0,freq,600")
        assert (reply["STATUS"], reply["Code"]) == ("W", 117)
        with pytest.raises(cgminer.CommandRefused, match="does not support ascset"):
            cgminer.check_status({"STATUS": [reply]}, "ascset")


def test_live_s9_survives_bad_ascsets_and_a_restart() -> None:
    with LiveEmulator("s9", seed=1, warm_up_s=10) as live, \
            CgminerFace(live, port=0, restart_s=0.05) as face:
        for parameter in ("0,freq,nan", "0,freq,5000", "0,freq,1e308", "0,volt,-1"):
            assert ascset(face, parameter)["STATUS"] == "E"
        with socket.create_connection((face.host, face.port), timeout=5) as sock:
            sock.sendall(cgminer.encode_request("restart"))
            sock.recv(1000)
        time.sleep(0.2)
        with socket.create_connection((face.host, face.port), timeout=5) as sock:
            sock.sendall(cgminer.encode_request(["summary", "stats"]))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        doc = cgminer.decode_reply(data)
        assert cgminer.parse_summary(doc["summary"][0])
        assert abs(live.frequency_mhz(0) - 650) < 1  # nothing bad was applied


@pytest.mark.parametrize("body", [b'{"select": 99}', b'{"select": true}', b'{"select": "1"}',
                                  b'{"fanspeed": NaN}', b'{"fanspeed": 1e308}',
                                  b'{"fanspeed": -5}', b'{"fanmode": 7}', b"[1]", b"{"])
def test_goldshell_setting_refuses_bad_values_whole(body: bytes) -> None:
    source = StaticSnapshotSource.for_model("lbbox")
    with GoldshellFace(source, port=0, restart_s=0.05) as face:
        status, data = request(face, "GET", "/user/login?username=admin&password=123456789"
                             "&cipher=false")
        token = json.loads(data)["JWT Token"]
        auth = {"Authorization": f"Bearer {token}"}
        before = dict(face.setting)
        assert request(face, "PUT", "/mcb/setting", body, auth)[0] == 400
        assert face.setting == before and source.fan_pct == 75.0
        assert request(face, "GET", "/mcb/restart", None, auth)[0] == 200
        time.sleep(0.1)
        status, data = request(face, "GET", "/mcb/cgminer?cgminercmd=devs", None, auth)
        assert status == 200 and json.loads(data)["data"]


def test_axeos_info_reports_the_models_overheat_trip() -> None:
    class Tripped(StaticSnapshotSource):
        def snapshot(self):  # type: ignore[no-untyped-def]
            return {**super().snapshot(), "overheat_mode": True}

    with AxeOSFace(Tripped(), port=0) as face:
        assert json.loads(request(face, "GET", "/api/system/info")[1])["overheat_mode"] == 1
    with AxeOSFace(StaticSnapshotSource(), port=0) as face:
        assert json.loads(request(face, "GET", "/api/system/info")[1])["overheat_mode"] == 0
