"""pyasic detects each emulated device as the right kind and reads its data.

pyasic's ports are fixed (HTTP 80, cgminer API 4028), so each face binds those ports on
its own random address of the loopback range 127.0.0.0/8 (never any other address).
Port 80 needs root or CAP_NET_BIND_SERVICE; the test is skipped without it.
"""

from __future__ import annotations

import random
import socket
import warnings

import pytest

from asic_bridge.api import pyasic_support
from emulator.faces import StaticSnapshotSource
from emulator.faces.cgminer_api import CgminerFace
from emulator.faces.goldshell_api import GoldshellFace
from emulator.faces.http_api import AxeOSFace

with warnings.catch_warnings():  # pyasic's dependencies warn when imported
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyasic  # noqa: F401 - a declared dependency: missing is a broken install, not a skip


def loopback_host(*ports: int) -> str:
    """A random 127.x.y.z where ``ports`` can be bound, or skip."""
    rng = random.Random()
    for _ in range(20):
        host = f"127.{rng.randint(100, 254)}.{rng.randint(0, 254)}.{rng.randint(2, 254)}"
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except PermissionError:
            pytest.skip(f"binding port {ports} on loopback needs root or CAP_NET_BIND_SERVICE")
        except OSError:
            continue
        return host
    pytest.skip("no free loopback address for pyasic's fixed ports")


def test_lv06_detected_as_lucky_miner_lv06() -> None:
    host = loopback_host(80)
    source = StaticSnapshotSource.for_model("lv06")
    with AxeOSFace(source, host=host, port=80):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "partially supported" warning after register
            found = pyasic_support.detect(host)
        assert found is not None
        assert (found.kind, found.make) == ("lv06", "LuckyMiner")
        assert found.pyasic_class == "LuckyMinerLV06"
        assert found.model.startswith("LV06")
        assert found.url == f"axeos://{host}:80"
        data = pyasic_support.read(found.miner)
    assert data.hashrate_ghs == pytest.approx(485 * 894 / 1000, rel=1e-6)
    assert data.power_w == 13
    assert data.temperature_c == 52  # pyasic's board temperature is AxeOS vrTemp


def test_bitaxe_flavour_is_not_an_lv06() -> None:
    host = loopback_host(80)
    with AxeOSFace(StaticSnapshotSource(), host=host, port=80, flavour="bitaxe"):
        found = pyasic_support.detect(host)
    assert found is not None and found.make == "BitAxe" and found.pyasic_class == "BitAxeUltra"


def test_s9_detected_as_antminer_s9() -> None:
    host = loopback_host(4028)
    with CgminerFace(StaticSnapshotSource.for_model("s9"), host=host, port=4028):
        found = pyasic_support.detect(host)
        assert found is not None
        assert (found.kind, found.make, found.pyasic_class) == ("s9", "AntMiner", "BMMinerS9")
        assert found.url == f"cgminer://{host}:4028"
        data = pyasic_support.read(found.miner)
    assert data.hashrate_ghs == pytest.approx(650 * 114 * 189 / 1000, rel=1e-4)
    assert data.temperature_c == 72
    assert data.power_w is None  # stock bmminer reports no power; pyasic reads none


def test_lbbox_detected_as_goldshell() -> None:
    host = loopback_host(80, 4028)
    with GoldshellFace(StaticSnapshotSource.for_model("lbbox"), host=host, port=80, rpc_port=4028):
        found = pyasic_support.detect(host)
        assert found is not None
        assert (found.kind, found.make) == ("lbbox", "Goldshell")
        assert found.pyasic_class == "GoldshellLBBox"
        data = pyasic_support.read(found.miner)
    assert data.hashrate_ghs == pytest.approx(176.0)
    assert data.temperature_c == 83
    assert data.power_w is None  # pyasic has no power reading for Goldshell


def test_nothing_listening_is_none() -> None:
    host = loopback_host(80, 4028)
    assert pyasic_support.detect(host, timeout_s=1) is None
