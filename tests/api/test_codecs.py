"""Sans-IO codec tests with literal replies."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asic_bridge.api import axeos, cgminer, goldshell
from asic_bridge.api.readings import Reading, to_float
from asic_bridge.errors import DeviceError, ProtocolError


def by_key(readings: list[Reading]) -> dict[tuple[str, int | None], Reading]:
    return {(r.quantity, r.index): r for r in readings}


# -- cgminer ----------------------------------------------------------------------------

S9_STATS = (
    b'{"STATUS":[{"STATUS":"S","When":1700000000,"Code":70,"Msg":"BMMiner stats",'
    b'"Description":"bmminer 2.0.0"}],"STATS":[{"BMMiner":"2.0.0","Miner":"16.8.1.3",'
    b'"CompileTime":"Fri Nov 17 17:57:49 CST 2017","Type":"Antminer S9"}'
    b'{"STATS":0,"ID":"BC50","Elapsed":3600,"GHS 5s":"13979.12","GHS av":14001.5,'
    b'"frequency":"650","fan3":5880,"fan6":5760,'
    b'"temp6":61,"temp7":63,"temp8":60,"temp2_6":76,"temp2_7":79,"temp2_8":75,'
    b'"freq_avg6":650.0,"freq_avg7":650.0,"freq_avg8":650.0,'
    b'"chain_acn1":0,"chain_acn6":63,"chain_acn7":63,"chain_acn8":62,'
    b'"chain_hw6":3,"chain_hw7":0,"chain_hw8":11,'
    b'"chain_rate6":"4660.01","chain_rate7":"4671.10","chain_rate8":"4648.00"}],"id":1}\x00'
)


def test_encode_request_joins_commands() -> None:
    assert json.loads(cgminer.encode_request(["summary", "stats"])) == {"command": "summary+stats"}
    assert json.loads(cgminer.encode_request("ascset", "0,freq,600")) == {
        "command": "ascset", "parameter": "0,freq,600"}
    with pytest.raises(ValueError):
        cgminer.encode_request("summary; rm")


def test_decode_reply_repairs_brace_quirk_and_nul() -> None:
    doc = cgminer.decode_reply(S9_STATS)
    assert doc["STATS"][0]["Type"] == "Antminer S9"
    assert doc["STATS"][1]["Elapsed"] == 3600


def test_decode_reply_keeps_braces_inside_strings() -> None:
    doc = cgminer.decode_reply(b'{"STATUS":[{"STATUS":"S","Msg":"a}{b"}],"X":[{}{}]}\x00')
    assert doc["STATUS"][0]["Msg"] == "a}{b"
    assert doc["X"] == [{}, {}]


def test_decode_reply_leading_comma_quirk() -> None:
    assert cgminer.decode_reply(b'{"A":[,{"x":1}]}') == {"A": [{"x": 1}]}


@pytest.mark.parametrize("data", [b"", b"\x00", b'{"STATUS":[{"STATUS":"S"', b"\xff\xfe", b"[1,2]"])
def test_decode_reply_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        cgminer.decode_reply(data)


def test_parse_stats_s9_layout_chains_6_to_8() -> None:
    doc = cgminer.decode_reply(S9_STATS)
    info = cgminer.stats_info(doc)
    assert info == cgminer.StatsInfo("Antminer S9", (6, 7, 8))
    r = by_key(cgminer.parse_stats(doc))
    assert r[("chain_hashrate", 0)].value == pytest.approx(4660.01)
    assert r[("chain_hashrate", 2)] == Reading("chain_hashrate", 4648.0, "GH/s", 2)
    assert r[("chain_chips", 2)].value == 62
    assert r[("board_temp", 1)] == Reading("board_temp", 63.0, "degC", 1)
    assert r[("chip_temp_max", 1)] == Reading("chip_temp_max", 79.0, "degC", 1)
    assert ("chip_temp", None) not in r and ("board_temp", None) not in r  # no aggregates
    assert r[("chain_hw_errors", 2)].value == 11
    assert r[("frequency", None)] == Reading("frequency", 650.0, "MHz", None)
    assert r[("fan_rpm", 0)].value == 5880 and r[("fan_rpm", 1)].value == 5760
    assert ("power", None) not in r  # stock bmminer reports no power


def test_parse_summary_string_and_numeric_ghs() -> None:
    as_string = {"STATUS": [{"STATUS": "S"}], "SUMMARY": [{"GHS 5s": "13979.12", "GHS av": 14001.5,
                 "Accepted": 12, "Rejected": 1, "Hardware Errors": 7, "Elapsed": 99}]}
    as_number = {"STATUS": [{"STATUS": "S"}], "SUMMARY": [{"GHS 5s": 13979.12}]}
    mhs = {"STATUS": [{"STATUS": "S"}], "SUMMARY": [{"MHS 20s": 176000.0}]}
    r = by_key(cgminer.parse_summary(as_string))
    assert r[("hashrate", None)] == Reading("hashrate", 13979.12, "GH/s", None)
    assert r[("hashrate_avg", None)].value == 14001.5
    assert r[("hw_errors", None)].value == 7 and r[("uptime", None)].unit == "s"
    assert by_key(cgminer.parse_summary(as_number))[("hashrate", None)].value == 13979.12
    assert by_key(cgminer.parse_summary(mhs))[("hashrate", None)].value == 176.0


def test_parse_summary_skips_junk_field() -> None:
    doc = {"SUMMARY": [{"GHS 5s": "n/a", "GHS av": 10.0}]}
    r = by_key(cgminer.parse_summary(doc))
    assert ("hashrate", None) not in r and r[("hashrate_avg", None)].value == 10.0


def test_split_and_check_multi_command_reply() -> None:
    doc = cgminer.decode_reply(
        b'{"summary":[{"STATUS":[{"STATUS":"S"}],"SUMMARY":[{"GHS 5s":"1.5"}]}],'
        b'"pools":[{"STATUS":[{"STATUS":"S"}],"POOLS":[{"POOL":0,"URL":"stratum+tcp://x:1",'
        b'"Status":"Alive","Stratum Active":true,"Accepted":3,"Rejected":0,"User":"u"}]}],'
        b'"id":1}\x00'
    )
    parts = cgminer.split_replies(doc, ["summary", "pools"])
    for name, reply in parts.items():
        cgminer.check_status(reply, name)
    assert cgminer.parse_pools(parts["pools"])[0].accepted == 3
    with pytest.raises(ProtocolError):
        cgminer.split_replies(doc, ["summary", "stats"])


def test_check_status_refusal_is_a_device_error() -> None:
    reply = {"STATUS": [{"STATUS": "E", "Code": 45, "Msg": "Access denied to 'ascset' command"}]}
    with pytest.raises(cgminer.CommandRefused) as info:
        cgminer.check_status(reply, "ascset")
    assert isinstance(info.value, DeviceError) and info.value.code == 45
    with pytest.raises(ProtocolError):
        cgminer.check_status({"SUMMARY": []}, "summary")


def test_parse_devs_mhs_to_ghs() -> None:
    doc = {"DEVS": [{"ASC": 0, "MHS 5s": 4660000.0, "Temperature": 70.5, "Hardware Errors": 2},
                    {"ASC": 1, "MHS 20s": "58000", "tstemp-2": 66}]}
    r = by_key(cgminer.parse_devs(doc))
    assert r[("chain_hashrate", 0)].value == 4660.0
    assert r[("chain_hashrate", 1)].value == 58.0
    assert r[("chip_temp_max", 1)].value == 66


# -- AxeOS --------------------------------------------------------------------------------

LV_INFO = b"""{
 "power": 99.80615234375, "voltage": 12140.625, "current": 20750, "temp": 55,
 "vrTemp": 52, "hashRate": 3587.3619047440029, "bestDiff": "618M", "coreVoltage": 1200,
 "coreVoltageActual": 1182, "frequency": 485, "macAddr": "E4:B0:63:B3:25:BC",
 "hostname": "espressif", "sharesAccepted": 57757, "sharesRejected": 66,
 "uptimeSeconds": 148893, "asicCount": 9, "smallCoreCount": 894, "ASICModel": "BM1366",
 "minerModel": "LV08", "version": "1.1.0", "fanspeed": 100, "fanrpm": 4458
}"""


def test_parse_info_units_and_string_best_diff() -> None:
    from asic_bridge.api.readings import json_object

    info = json_object(LV_INFO, what="info")
    r = by_key(axeos.parse_info(info))
    assert r[("power", None)] == Reading("power", 99.80615234375, "W", None)
    assert r[("hashrate", None)].unit == "GH/s"
    # nine chips: ESP-Miner's temp is their mean, not chip 0's
    assert r[("chip_temp_avg", None)].value == 55 and r[("vr_temp", None)].unit == "degC"
    assert ("chip_temp", 0) not in r
    one_chip = by_key(axeos.parse_info({**info, "asicCount": 1}))
    assert one_chip[("chip_temp", 0)].value == 55 and ("chip_temp_avg", None) not in one_chip
    assert r[("best_diff", None)].value == 618e6
    assert r[("core_voltage", None)] == Reading("core_voltage", 1200.0, "mV", None)
    assert r[("input_current", None)].unit == "mA"
    assert r[("fan_rpm", 0)].value == 4458 and r[("fan_duty", None)].unit == "%"
    ident = axeos.identity(info)
    assert (ident.asic_model, ident.miner_model, ident.small_core_count) == ("BM1366", "LV08", 894)


@pytest.mark.parametrize(("raw", "value"), [("618M", 618e6), ("4.29G", 4.29e9), (123456, 123456.0),
                                           (1.5e9, 1.5e9), ("  77  ", 77.0), ("1,234", 1234.0)])
def test_best_diff_string_or_number(raw: object, value: float) -> None:
    r = by_key(axeos.parse_info({"bestDiff": raw}))
    assert r[("best_diff", None)].value == pytest.approx(value)


@pytest.mark.parametrize("raw", [None, "abc", "nan", True, {"x": 1}])
def test_to_float_refuses_non_numbers(raw: object) -> None:
    with pytest.raises(ProtocolError):
        to_float(raw)


def test_patch_body() -> None:
    assert json.loads(axeos.patch_body(frequency_mhz=525.4)) == {"frequency": 525}
    assert json.loads(axeos.patch_body(fan_pct=60)) == {"autofanspeed": 0, "fanspeed": 60}
    with pytest.raises(ValueError):
        axeos.patch_body()


def test_json_object_malformed() -> None:
    from asic_bridge.api.readings import json_object

    with pytest.raises(ProtocolError, match="not a JSON reply"):
        json_object(b'{"power": 13.', what="GET /api/system/info")
    with pytest.raises(ProtocolError, match="JSON object"):
        json_object(b"[1]", what="x")


# -- Goldshell --------------------------------------------------------------------------------


def test_goldshell_temp_and_fan_strings() -> None:
    assert goldshell.parse_numbers("83.0 °C / 73.8 °C", field="temp") == [83.0, 73.8]
    assert goldshell.parse_numbers("83.0 ℃/73.8℃", field="temp") == [83.0, 73.8]
    assert goldshell.parse_numbers("3120 rpm / 3090 rpm", field="fan") == [3120.0, 3090.0]
    assert goldshell.parse_numbers("", field="fan") == []
    with pytest.raises(ProtocolError):
        goldshell.parse_numbers("n/a", field="temp")


def test_goldshell_devs() -> None:
    doc = {"data": [{"id": 0, "hashrate": 175980.5, "av_hashrate": 175000.0, "accepted": 10,
                     "rejected": 1, "hwerrors": 2, "temp": "83.0 °C / 73.8 °C",
                     "fanspeed": "3120 rpm / 3090 rpm"}]}
    r = by_key(goldshell.parse_devs(doc))
    assert r[("hashrate", None)] == Reading("hashrate", pytest.approx(175.9805), "GH/s", None)
    assert r[("chip_temp_max", 0)].value == 83.0
    assert r[("board_temp", 0)].value == 73.8
    assert r[("fan_rpm", 1)].value == 3090
    assert r[("shares_accepted", None)].value == 10
    with pytest.raises(ProtocolError):
        goldshell.parse_devs({"nodata": 1})


def test_goldshell_login_and_plans() -> None:
    assert goldshell.parse_login({"JWT Token": "abc"}) == "abc"
    with pytest.raises(ProtocolError):
        goldshell.parse_login({"error": "wrong"})
    assert "cipher=false" in goldshell.login_path("admin", "p&w")
    assert "p%26w" in goldshell.login_path("admin", "p&w")
    setting = {"select": 1, "powerplans": [{"level": 0, "freq": 500, "volt": 750},
                                           {"level": 1, "freq": 450, "volt": 725}]}
    plans, select = goldshell.parse_setting(setting)
    assert select == 1 and plans[0].freq_mhz == 500
    assert goldshell.nearest_plan(plans, 490) == 0
    assert json.loads(goldshell.setting_body(setting, select=0))["select"] == 0
    with pytest.raises(ProtocolError):
        goldshell.parse_setting({"select": 5, "powerplans": [{"freq": 1}]})


# -- fuzz: the three reply codecs raise nothing but ProtocolError ---------------------------


_KEYS = st.sampled_from([
    "STATUS", "When", "Code", "Msg", "Description", "SUMMARY", "STATS", "DEVS", "POOLS",
    "VERSION", "summary", "stats", "devs", "GHS 5s", "GHS av", "MHS 20s", "MHS av",
    "Accepted", "Rejected", "Hardware Errors", "Elapsed", "Best Share", "Type", "chain_acn6",
    "chain_rate6", "temp6", "temp2_6", "freq_avg6", "chain_hw6", "chain_power6", "fan3",
    "frequency", "Power", "Temperature", "tstemp-2", "POOL", "URL", "data", "Data", "id",
    "hashrate", "av_hashrate", "accepted", "hwerrors", "temp", "fanspeed", "powerplans",
    "select", "level", "freq", "volt", "info", "model", "JWT Token", "hashRate", "asicCount",
    "bestDiff", "fanrpm", "fanSpeed", "smallCoreCount", "power", "vrTemp", "overheat_mode",
])
_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
            | st.text(max_size=12) | st.sampled_from(["S", "E", "W", "618M", "83 °C / 70 °C",
                                                      "1e400", "-5", "nan", "inf"]))
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(max_size=6),
                                                                inner, max_size=6),
    max_leaves=30,
)


def _as_bytes(doc: object) -> bytes:
    return json.dumps(doc, default=str).encode()


_ENTRY = st.dictionaries(_KEYS, _SCALARS, max_size=10) | _SCALARS
_SECTIONS = st.sampled_from(["SUMMARY", "STATS", "DEVS", "POOLS", "VERSION", "data", "Data",
                             "powerplans", "summary", "stats", "devs"])
_SHAPED = st.dictionaries(  # replies shaped like the firmware's, with wrong types inside
    _SECTIONS | _KEYS,
    st.lists(_ENTRY, max_size=4) | _ENTRY | st.just([{"STATUS": "S", "Code": 1}]),
    max_size=6,
)


_REPLY_BYTES = (
    st.binary(max_size=200)
    | _JSON.map(_as_bytes)
    | _SHAPED.map(_as_bytes)
    | _SHAPED.map(lambda doc: _as_bytes({"summary": [doc], "stats": [doc], "devs": doc}))
    | st.tuples(st.just(S9_STATS), st.integers(0, len(S9_STATS))).map(lambda t: t[0][: t[1]])
    | st.tuples(_JSON.map(_as_bytes), st.integers(0, 200)).map(lambda t: t[0][: t[1]])
    | st.just(b"HTTP/1.1 500 Internal Server Error\r\n\r\n<html>oops</html>")
    | st.just(b"[" * 100_000)
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(_REPLY_BYTES)
def test_fuzz_cgminer_codec_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        cgminer.decode_request(data)
    try:
        doc = cgminer.decode_reply(data)
    except ProtocolError:
        return
    for commands in (["summary"], ["stats"], ["devs"], ["pools"], ["version"],
                     ["summary", "stats", "devs"]):
        try:
            replies = cgminer.split_replies(doc, commands)
        except ProtocolError:
            continue
        for name, reply in replies.items():
            for step in (lambda r=reply, n=name: cgminer.check_status(r, n),
                         lambda r=reply: cgminer.parse_summary(r),
                         lambda r=reply: cgminer.parse_stats(r),
                         lambda r=reply: cgminer.stats_info(r),
                         lambda r=reply: cgminer.parse_devs(r),
                         lambda r=reply: cgminer.parse_pools(r),
                         lambda r=reply: cgminer.parse_version(r)):
                with contextlib.suppress(ProtocolError, cgminer.CommandRefused):
                    step()


@FUZZ
@given(_REPLY_BYTES)
def test_fuzz_axeos_codec_raises_only_protocol_errors(data: bytes) -> None:
    from asic_bridge.api.readings import json_object

    try:
        info = json_object(data, what="GET /api/system/info")
        axeos.parse_info(info)
        axeos.identity(info)
    except ProtocolError:
        pass


@FUZZ
@given(_REPLY_BYTES)
def test_fuzz_goldshell_codec_raises_only_protocol_errors(data: bytes) -> None:
    from asic_bridge.api.readings import json_object

    try:
        doc = json_object(data, what="GET /mcb/cgminer")
    except ProtocolError:
        return
    for step in (lambda: goldshell.parse_devs(doc), lambda: goldshell.parse_login(doc),
                 lambda: goldshell.parse_status(doc),
                 lambda: goldshell.nearest_plan(goldshell.parse_setting(doc)[0], 500.0)):
        with contextlib.suppress(ProtocolError):
            step()


@pytest.mark.parametrize("reply", [
    b'{"STATUS":"S","SUMMARY":[{"GHS 5s":"13.5","Elapsed":10}],"id":1}\x00',
    b'{"STATUS":"E","Msg":"no"}\x00',
])
def test_top_level_status_string_is_understood(reply: bytes) -> None:
    doc = cgminer.decode_reply(reply)
    if doc["STATUS"] == "E":
        with pytest.raises(cgminer.CommandRefused):
            cgminer.check_status(doc, "summary")
        return
    cgminer.check_status(doc, "summary")
    assert by_key(cgminer.parse_summary(doc))[("hashrate", None)].value == 13.5


@pytest.mark.parametrize("data", [b"", b"garbage", b'{"a": 1', b"\x00\x00",
                                  b"HTTP/1.1 500 Internal Server Error\r\n\r\n"])
def test_garbage_truncated_and_http_500_bodies_are_protocol_errors(data: bytes) -> None:
    from asic_bridge.api.readings import json_object

    with pytest.raises(ProtocolError, match="miner API"):
        cgminer.decode_reply(data)
    with pytest.raises(ProtocolError, match="GET /api/system/info"):
        json_object(data, what="GET /api/system/info")
