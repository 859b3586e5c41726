"""Optional detection and reading through pyasic (``pip install pyasic``).

pyasic (Apache-2.0) probes a host the way its own tools do: ``GET http://HOST/`` (port
80) for a web UI marker ("AxeOS", "Lucky miner", Goldshell's "cloud-box", the antMiner
digest realm) and the cgminer API on port 4028 (``version``/``devdetails``). Its ports
are fixed, so a host must serve those ports to be detected.

What pyasic 0.79 lacks and this module adds at run time (:func:`register_missing_models`,
called by :func:`detect`): a model class for the Lucky Miner **LV06** (pyasic knows only
LV07/LV08; an LV06 otherwise becomes a generic ``LuckyMiner`` that reports no hash board
and so no temperature) and for the Goldshell **LB-Box** (otherwise ``GoldshellUnknown``,
again with no hash board). pyasic reads no power from bmminer (S9) or Goldshell
firmware, which do not report it.

pyasic is imported only inside these functions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

_registered = False

# Our model names for pyasic's makes.
_KIND_OF_MAKE = {"LuckyMiner": "lv06", "BitAxe": "lv06", "AntMiner": "s9", "Goldshell": "lbbox"}
_SCHEME_OF_KIND = {"lv06": ("axeos", 80), "s9": ("cgminer", 4028), "lbbox": ("goldshell", 80)}


def register_missing_models() -> None:
    """Teach pyasic the LV06 and the LB-Box (idempotent). ImportError without pyasic."""
    global _registered
    if _registered:
        return
    from pyasic.device.algorithm import MinerAlgo
    from pyasic.device.models import MinerModelType
    from pyasic.miners.backends.goldshell import GoldshellMiner
    from pyasic.miners.backends.luckyminer import LuckyMiner
    from pyasic.miners.device.makes import GoldshellMake, LuckyMinerMake
    from pyasic.miners.factory import MINER_CLASSES, MinerTypes

    class HashrcModels(MinerModelType):
        LV06 = "LV06"
        LBBox = "LB Box"

        def __str__(self) -> str:
            return str(self.value)

    class LV06Model(LuckyMinerMake):
        raw_model = HashrcModels.LV06
        expected_hashboards = 1
        expected_chips = 1
        expected_fans = 1
        algo = MinerAlgo.SHA256

    class LBBoxModel(GoldshellMake):
        raw_model = HashrcModels.LBBox
        expected_hashboards = 1
        expected_chips = 4  # an assumption, as in asic_bridge.models.LBBOX
        expected_fans = 2
        algo = MinerAlgo.SHA256  # pyasic has no LBRY algorithm; units stay H/s multiples

    lv06 = type("LuckyMinerLV06", (LuckyMiner, LV06Model), {})
    lbbox = type("GoldshellLBBox", (GoldshellMiner, LBBoxModel), {})
    MINER_CLASSES[MinerTypes.LUCKYMINER].setdefault("LV06", lv06)
    for key in ("GOLDSHELL LB BOX", "GOLDSHELL LBBOX", "GOLDSHELL LB"):
        MINER_CLASSES[MinerTypes.GOLDSHELL].setdefault(key, lbbox)
    _registered = True


@dataclass(frozen=True, slots=True)
class Detected:
    """What pyasic found: our ``kind`` (lv06, s9, lbbox, or "" when unknown to hashrc),
    pyasic's make, model and class name, and the hashrc URL to open it."""

    kind: str
    make: str
    model: str
    pyasic_class: str
    url: str
    miner: Any  # the pyasic miner object, for further pyasic calls


def detect(host: str, *, timeout_s: float = 3.0, register: bool = True) -> Detected | None:
    """Detect the miner at ``host`` with pyasic's ``get_miner``; None if nothing is found.
    Runs its own event loop (do not call from inside a running loop)."""
    if register:
        register_missing_models()
    from pyasic import settings
    from pyasic.miners.factory import miner_factory

    settings.update("factory_get_timeout", max(1, round(timeout_s)))
    miner = asyncio.run(miner_factory.get_miner(host))
    if miner is None:
        return None
    make = str(miner.make) if miner.make is not None else ""
    kind = _KIND_OF_MAKE.get(make, "")
    url = ""
    if kind:
        scheme, port = _SCHEME_OF_KIND[kind]
        url = f"{scheme}://{host}:{port}"
    return Detected(kind, make, str(miner.model), type(miner).__name__, url, miner)


@dataclass(frozen=True, slots=True)
class PyasicReading:
    """pyasic's view of a miner: hashrate GH/s, mean hash-board temperature degC,
    power W; None where pyasic could not read it."""

    hashrate_ghs: float | None
    temperature_c: float | None
    power_w: float | None


def read(miner: Any) -> PyasicReading:
    """Read hashrate, temperature and power through pyasic's ``get_data``, limited to
    those data (pyasic's full ``get_data`` also fetches the config, which fails on a
    Goldshell whose ``/mcb/pools`` is a list: pyasic's ``get_config`` expects an object
    there while its ``send_config`` iterates a list)."""

    async def fetch() -> Any:
        return await miner.get_data(include=["hashrate", "hashboards", "wattage", "fans"])

    data = asyncio.run(fetch())
    rate = data.hashrate
    ghs = None
    if rate is not None:
        from pyasic.device.algorithm.hashrate.unit.sha256 import SHA256Unit

        ghs = float(rate.into(SHA256Unit.GH))
    temp = data.temperature_avg
    return PyasicReading(
        hashrate_ghs=ghs,
        temperature_c=None if temp is None else float(temp),
        power_w=None if data.wattage is None else float(data.wattage),
    )
