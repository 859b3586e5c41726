"""``hashrc sweep``: share-timing statistics over a grid of clock (MHz), core voltage (mV)
and difficulty on any device URL (``emu://MODEL`` or hardware), through
:func:`asic_bridge.device.open_device`.

Each cell: set the knobs, let the device settle for ``settle_s``, then record shares for
``hold_s`` on the device's clock. Per cell: share count, inter-arrival CV, 20-bin entropy,
the exponential goodness-of-fit test, the dispersion index, each with interval and N
(:mod:`reservoir.timing`). The host's own timestamp jitter is measured in the same run.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asic_bridge.device import open_device
from asic_bridge.events import ShareEvent
from reservoir.timing import host_jitter_floor, timing_stats

TWO32 = 2**32


@dataclass(frozen=True)
class SweepConfig:
    """The grid; ``None`` axes take defaults from the device's spec."""

    frequencies_mhz: tuple[float, ...] | None = None
    voltages_mv: tuple[float, ...] | None = None
    difficulties: tuple[float, ...] | None = None
    hold_s: float = 60.0
    settle_s: float = 5.0
    window_s: float = 1.0
    seed: int = 0
    override: bool = False


def default_axes(spec) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Three clocks across the safe range, two voltages (default and range top), and two
    difficulties giving about 2 and 10 shares/s at the nominal hashrate."""
    f_lo, f_hi = spec.frequency_range_mhz
    f0 = spec.default_frequency_mhz
    freqs = tuple(sorted({round(f_lo + 0.25 * (f_hi - f_lo)), round(f0), round(f_hi - 0.1 * (f_hi - f_lo))}))
    v0 = spec.default_core_mv
    volts = tuple(sorted({round(v0), round(spec.core_voltage_range_mv[1])}))
    h = spec.nominal_hashrate_ghs * 1e9
    diffs = tuple(float(f"{h / (r * TWO32):.3g}") for r in (10.0, 2.0))
    return freqs, volts, diffs


def _drain_shares(device, into: list[int]) -> None:
    for event in device.events():
        if isinstance(event, ShareEvent):
            into.append(event.t_ns)


def run_cell(device, frequency: float, voltage: float, difficulty: float, config: SweepConfig) -> dict:
    """Set one cell's knobs, settle, record; returns the share times (ns) and the applied values."""
    applied = {}
    for knob, value, unit in (
        ("core_voltage", voltage, "mV"),
        ("frequency", frequency, "MHz"),
        ("difficulty", difficulty, "1"),
    ):
        applied[knob] = device.set_knob(knob, value, unit, override=config.override).value
    clock = device.clock
    sink: list[int] = []
    clock.sleep(config.settle_s)
    _drain_shares(device, sink)  # settling shares are discarded
    start = clock.now_ns()
    end = start + round(config.hold_s * 1e9)
    shares: list[int] = []
    while clock.now_ns() < end:
        clock.sleep(min(0.5, (end - clock.now_ns()) / 1e9))
        _drain_shares(device, shares)
    shares = [t for t in shares if start <= t < end]
    return {"applied": applied, "t_ns": np.array(shares, dtype=np.int64), "span_s": (start / 1e9, end / 1e9)}


def run_sweep(url: str, out: Path, config: SweepConfig) -> dict:
    """Run the grid on ``url`` and write report.json, report.md and heatmap PNGs."""
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    jitter = host_jitter_floor()
    cells = []
    with open_device(url) as device:
        spec = device.spec
        freqs, volts, diffs = default_axes(spec)
        freqs = config.frequencies_mhz or freqs
        volts = config.voltages_mv or volts
        diffs = config.difficulties or diffs
        for d, v, f in itertools.product(diffs, volts, freqs):
            cell = run_cell(device, f, v, d, config)
            stats_ = timing_stats(cell["t_ns"], rng, window_s=config.window_s, span_s=cell["span_s"])
            expected = spec.nominal_hashrate_ghs * (f / spec.default_frequency_mhz) * 1e9 / (d * TWO32)
            cells.append(
                {
                    "frequency_mhz": f,
                    "core_voltage_mv": v,
                    "difficulty": d,
                    "applied": cell["applied"],
                    "expected_rate_per_s_at_nominal_efficiency": expected,
                    **stats_,
                }
            )
        info = device.info
        clock = "simulated" if device.clock.simulated else "wall"
    report = {
        "device_url": url,
        "device_model": spec.model,
        "device_serial": info.serial,
        "clock": clock,
        "config": {k: v for k, v in vars(config).items()},
        "axes": {"frequency_mhz": list(freqs), "core_voltage_mv": list(volts), "difficulty": list(diffs)},
        "host_jitter_floor": jitter,
        "cells": cells,
        "published": "inter-arrival CV 0.09 to 0.98 across sweeps, 'non-Poissonian', under 1,000 shares "
        "per condition",
        "wall_seconds": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    plots = _heatmaps(report, out)
    report["plots"] = plots
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default))
    (out / "report.md").write_text(_markdown(report))
    return report


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj))


def summary(report: dict) -> dict:
    """Range of CV over cells and how many cells the exponential test rejects at 5 %."""
    cvs = [c["cv"]["value"] for c in report["cells"] if "cv" in c]
    tested = [c for c in report["cells"] if c.get("exponential_test", {}).get("p_value") is not None]
    rejected = sum(c["exponential_test"]["p_value"] < 0.05 for c in tested)
    shares = [c["shares"] for c in report["cells"]]
    return {
        "cv_min": min(cvs) if cvs else None,
        "cv_max": max(cvs) if cvs else None,
        "cells": len(report["cells"]),
        "cells_tested": len(tested),
        "cells_rejecting_exponential": rejected,
        "expected_false_rejections": 0.05 * len(tested),
        "min_shares": min(shares),
        "max_shares": max(shares),
        "jitter_p99_us": report["host_jitter_floor"].get("p99_us"),
    }


def _fmt_ci(d: dict | None, digits: int = 3) -> str:
    if not d:
        return "n/a"
    return f"{d['value']:.{digits}f} [{d['ci'][0]:.{digits}f}, {d['ci'][1]:.{digits}f}]"


def _markdown(report: dict) -> str:
    j = report["host_jitter_floor"]
    s = summary(report)
    lines = [
        "# Timing sweep (hashrc sweep)",
        "",
        f"Device `{report['device_url']}` ({report['device_model']}, serial {report['device_serial']}, "
        f"{report['clock']} clock); hold {report['config']['hold_s']} s per cell after "
        f"{report['config']['settle_s']} s settling.",
        "",
        f"Host timestamp jitter floor (same run, {j.get('method', '')}): median "
        f"{j.get('median_us', 0):.1f} us, p99 {j.get('p99_us', 0):.1f} us over {j.get('n')} messages "
        f"({j.get('source')}). Compare with the mean interval of each cell: an effect smaller than "
        "this floor is the bridge, not the chip.",
        "",
        f"Published: {report['published']}. Measured: CV {s['cv_min']:.3f} to {s['cv_max']:.3f} over "
        f"{s['cells']} cells; the exponential test rejects in {s['cells_rejecting_exponential']} of "
        f"{s['cells_tested']} cells (about {s['expected_false_rejections']:.1f} expected by chance "
        "at 5 %).",
        "",
        "| MHz | mV | difficulty | shares | CV [95 %] (Poisson control) | entropy20 bits [95 %] (control) "
        "| KS p (exp.) | AD / AD p | dispersion [95 %] (windows) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report["cells"]:
        if "cv" not in c:
            lines.append(
                f"| {c['frequency_mhz']} | {c['core_voltage_mv']} | {c['difficulty']:g} | {c['shares']} "
                "| too few shares | | | | |"
            )
            continue
        e = c["exponential_test"]
        disp = c.get("dispersion_index")
        cvc = c["cv"]["poisson_control"]
        enc = c["entropy20_bits"]["poisson_control"]
        lines.append(
            f"| {c['frequency_mhz']} | {c['core_voltage_mv']} | {c['difficulty']:g} | {c['shares']} | "
            f"{_fmt_ci(c['cv'])} ({cvc[0]:.2f}-{cvc[1]:.2f}) | {_fmt_ci(c['entropy20_bits'], 2)} "
            f"({enc[0]:.2f}-{enc[1]:.2f}) | {e['p_value']:.3f} | {e['ad']:.2f} / {e['ad_p_value']:.2f} | "
            + (f"{_fmt_ci(disp, 2)} ({disp['windows']})" if disp else "n/a")
            + " |"
        )
    lines += [
        "",
        *[f"![{p}]({p})" for p in report.get("plots", [])],
        "",
        f"Wall time {report['wall_seconds']:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def _heatmaps(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = report["axes"]
    freqs, volts, diffs = axes["frequency_mhz"], axes["core_voltage_mv"], axes["difficulty"]
    names = []
    for key, title, getter in (
        ("cv", "inter-arrival CV", lambda c: c["cv"]["value"] if "cv" in c else np.nan),
        ("ks_p", "exponential KS p-value", lambda c: c.get("exponential_test", {}).get("p_value") or np.nan),
    ):
        fig, panes = plt.subplots(1, len(diffs), figsize=(4.5 * len(diffs), 3.8), squeeze=False)
        for ax, d in zip(panes[0], diffs, strict=True):
            grid = np.full((len(volts), len(freqs)), np.nan)
            for c in report["cells"]:
                if c["difficulty"] == d:
                    grid[volts.index(c["core_voltage_mv"]), freqs.index(c["frequency_mhz"])] = getter(c)
            im = ax.imshow(
                grid,
                origin="lower",
                aspect="auto",
                cmap="viridis",
                vmin=0 if key == "ks_p" else None,
                vmax=1 if key == "ks_p" else None,
            )
            for (i, j), val in np.ndenumerate(grid):
                n = next(
                    (
                        c["shares"]
                        for c in report["cells"]
                        if c["difficulty"] == d
                        and c["core_voltage_mv"] == volts[i]
                        and c["frequency_mhz"] == freqs[j]
                    ),
                    0,
                )
                ax.text(j, i, f"{val:.2f}\nN={n}", ha="center", va="center", color="w", fontsize=8)
            ax.set_xticks(range(len(freqs)), [f"{f:g}" for f in freqs])
            ax.set_yticks(range(len(volts)), [f"{v:g}" for v in volts])
            ax.set_xlabel("clock MHz")
            ax.set_ylabel("core mV")
            ax.set_title(f"{title}, difficulty {d:g}", fontsize=9)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        name = f"heatmap_{key}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)
    return names
