"""PLL search and register encoding: protocols.md / ESP-Miner examples."""

from __future__ import annotations

import math

import pytest

from asic_bridge.serial.pll import (
    PllSetting,
    decode_register,
    grid_mhz,
    register_payload,
    register_value,
    search,
)


def test_bm1397_range_gives_the_documented_450_mhz_example() -> None:
    # protocols.md's example; ESP-Miner's unit test runs it with fb 60..200 (BM1397).
    s = search("BM1397", 450.0)
    assert (s.fb, s.ref, s.p1, s.p2) == (72, 2, 2, 1)
    assert s.frequency_mhz == 450.0


def test_bm1366_450_mhz_respects_its_fb_range() -> None:
    s = search("BM1366", 450.0)
    assert (s.fb, s.ref, s.p1, s.p2, s.vdo) == (144, 2, 4, 1, 0x40)
    assert register_payload("BM1366", s) == bytes.fromhex("000840900230")


def test_bm1387_650_mhz_is_0x680221() -> None:
    s = search("bm1387", 650.0)
    assert register_value("BM1387", s) == 0x680221
    assert register_payload("BM1387", s) == bytes.fromhex("000C00680221")


def test_bm1366_default_485_mhz_sets_high_vco_range() -> None:
    s = search("BM1366", 485.0)
    assert s.frequency_mhz == 485.0
    assert s.vco_mhz >= 2400 and s.vdo == 0x50
    assert register_payload("BM1366", s)[:3] == bytes.fromhex("000850")


@pytest.mark.parametrize("chip", ["BM1366", "BM1368", "BM1370", "BM1397", "BM1387"])
@pytest.mark.parametrize("target", [400.0, 425.0, 485.0, 512.3, 575.0, 650.0])
def test_search_is_closest_and_obeys_constraints(chip: str, target: float) -> None:
    s = search(chip, target)
    assert 1 <= s.p2 < s.p1 <= 7 and s.ref in (1, 2)
    assert math.isclose(s.frequency_mhz, 25 * s.fb / (s.ref * s.p1 * s.p2))
    nearby = grid_mhz(chip, target - 20, target + 20)
    assert min(abs(f - target) for f in nearby) == pytest.approx(abs(s.frequency_mhz - target))
    assert decode_register(chip, register_value(chip, s)) == s


def test_tie_break_prefers_lowest_vco_then_smallest_post_product() -> None:
    # 400 MHz on BM1366: fb 160 with ref 2, p1*p2 = 5 (VCO 2000)
    # beats fb 192 with ref 2, p1*p2 = 6 (VCO 2400).
    s = search("BM1366", 400.0)
    assert s.vco_mhz == min(
        25 * fb / ref
        for fb in range(144, 236)
        for ref in (1, 2)
        for p1 in range(2, 8)
        for p2 in range(1, p1)
        if 25 * fb / (ref * p1 * p2) == 400.0
    )


def test_grid_is_sorted_unique_and_searchable() -> None:
    grid = grid_mhz("BM1366", 400.0, 575.0)
    assert grid == sorted(set(grid)) and grid[0] == 400.0 and grid[-1] == 575.0
    for f in grid[::7]:
        assert search("BM1366", f).frequency_mhz == f


@pytest.mark.parametrize("bad", [0.0, -1.0, 25.0, 65535.0, float("nan"), float("inf")])
def test_unreachable_targets_raise(bad: float) -> None:
    with pytest.raises(ValueError):
        search("BM1366", bad)


def test_unknown_chip_and_bad_setting_raise() -> None:
    with pytest.raises(ValueError):
        search("BM9999", 500.0)
    with pytest.raises(ValueError):
        register_value("BM1366", PllSetting(72, 2, 2, 1, 0x40, 450.0))
