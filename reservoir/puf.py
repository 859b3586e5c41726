"""Device fingerprints ("silicon signatures"): a fixed challenge, a response vector per
run, enrolment, verification, and the false-accept / false-reject evaluation.

Challenge: a fixed schedule of clock steps (low, default, high of the model's safe range)
at the default voltage and a difficulty giving about ``shares_per_s`` shares per second;
each step settles for ``settle_s`` and is then measured for ``hold_s`` on the device clock.

Response per step: share rate relative to the model's nominal rate at that clock (error
onset and the fmax of the silicon show here), the share fraction of each chain (or chip,
for up to 16 chips: the per-chip rate ratios), the mean of each temperature reading (the
thermal response: leakage and thermal resistance), and the rate of hardware-error counter
increments. Verification: RMS of z-scores against the enrolled mean, z using the within-
device spread (per feature, from repeated enrolment runs, with a floor).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asic_bridge.device import open_device
from asic_bridge.events import ShareEvent, TelemetryEvent

TWO32 = 2**32
_TEMPS = ("chip_temp", "chip_temp_max", "board_temp")
_ERRORS = ("hw_errors", "chain_hw_errors")


@dataclass(frozen=True)
class Challenge:
    """The fixed challenge (stored with a profile; verification must use the same)."""

    frequencies_mhz: tuple[float, ...]
    core_voltage_mv: float
    difficulty: float
    settle_s: float = 10.0
    hold_s: float = 30.0


def default_challenge(
    spec, *, shares_per_s: float = 10.0, hold_s: float = 30.0, settle_s: float = 10.0
) -> Challenge:
    """Three clocks across the model's safe range at the default voltage."""
    lo, hi = spec.frequency_range_mhz
    f0 = spec.default_frequency_mhz
    freqs = tuple(sorted({round(lo + 0.1 * (hi - lo)), round(f0), round(hi - 0.02 * (hi - lo))}))
    difficulty = float(f"{spec.nominal_hashrate_ghs * 1e9 / (shares_per_s * TWO32):.3g}")
    return Challenge(freqs, float(spec.default_core_mv), difficulty, settle_s, hold_s)


def _groups(spec) -> tuple[int, int]:
    """(number of groups, chips per group) for the rate-ratio features."""
    if spec.chip_count <= 16:
        return spec.chip_count, 1
    return spec.chains, spec.chips_per_chain


def challenge_schedule(challenge: Challenge) -> list[list]:
    """The challenge as a capture schedule: ``[t_s, knob, value, unit]`` rows."""
    rows: list[list] = [
        [0.0, "core_voltage", challenge.core_voltage_mv, "mV"],
        [0.0, "difficulty", challenge.difficulty, "1"],
    ]
    step = challenge.settle_s + challenge.hold_s
    rows += [[i * step, "frequency", f, "MHz"] for i, f in enumerate(challenge.frequencies_mhz)]
    return rows


def run_challenge(url: str, challenge: Challenge, capture: Path | None = None) -> dict:
    """Drive a device through the challenge; returns its shares, telemetry and the measured
    window of each step. With ``capture`` every event is also recorded to that capture
    file, with the challenge and the step windows in its metadata (so the response can be
    recomputed from the file by :func:`response_from_capture`)."""
    from asic_bridge.capture.metadata import device_metadata, new_capture

    events: list = []
    steps: list[list[float]] = []
    writer = None
    with open_device(url) as device:
        spec = device.spec
        if capture is not None:
            meta = device_metadata(
                device,
                url,
                task="puf",
                knobs=["frequency", "core_voltage", "difficulty"],
                schedule=challenge_schedule(challenge),
                extra={"puf_challenge": asdict(challenge)},
            )
            writer = new_capture(capture, meta, overwrite=True)
        try:
            device.set_knob("core_voltage", challenge.core_voltage_mv, "mV")
            device.set_knob("difficulty", challenge.difficulty, "1")
            clock = device.clock
            for f in challenge.frequencies_mhz:
                device.set_knob("frequency", f, "MHz")
                clock.sleep(challenge.settle_s)
                start = clock.now_ns()
                end = start + round(challenge.hold_s * 1e9)
                while clock.now_ns() < end:
                    clock.sleep(min(0.5, (end - clock.now_ns()) / 1e9))
                    events.extend(device.events())
                steps.append([f, start, end])
            events.extend(device.events())
            if writer is not None:
                writer.write_many(events)
                writer.set_metadata("puf_steps", steps)
        finally:
            if writer is not None:
                writer.close()
        identity = {"model": spec.model, "serial": device.info.serial, "url": url}
    shares = [e for e in events if isinstance(e, ShareEvent)]
    telemetry = [e for e in events if isinstance(e, TelemetryEvent)]
    return {"spec": spec, "steps": steps, "shares": shares, "telemetry": telemetry, "identity": identity}


def response_from_events(
    spec, challenge: Challenge, steps, shares, telemetry
) -> tuple[np.ndarray, list[str]]:
    """The response vector from a run's events: per step, the share rate over the nominal
    rate at that clock, each chip's (or chain's) share fraction, each temperature's mean, the
    hardware-error counter rate."""
    n_groups, per_group = _groups(spec)
    features: list[float] = []
    names: list[str] = []
    for f, start, end in steps:
        hold_s = (end - start) / 1e9
        in_step = [s for s in shares if start <= s.t_ns < end]
        tel = [e for e in telemetry if start <= e.t_ns < end]
        expected = (
            spec.nominal_hashrate_ghs
            * (f / spec.default_frequency_mhz)
            * 1e9
            / (challenge.difficulty * TWO32)
        )
        features.append(len(in_step) / hold_s / expected)
        names.append(f"{f:g}MHz.rate_ratio")
        if n_groups > 1:
            counts = np.zeros(n_groups)
            for s in in_step:
                if s.chip is not None:
                    counts[min(s.chip // per_group, n_groups - 1)] += 1
            features.extend((counts / max(counts.sum(), 1.0)).tolist())
            names.extend(f"{f:g}MHz.group{g}_fraction" for g in range(n_groups))
        by_q: dict[tuple[str, int | None], list[tuple[int, float]]] = {}
        for e in tel:
            by_q.setdefault((e.quantity, e.index), []).append((e.t_ns, e.value))
        for key in sorted(
            (k for k in by_q if k[0] in _TEMPS), key=lambda k: (k[0], -1 if k[1] is None else k[1])
        ):
            features.append(float(np.mean([v for _, v in by_q[key]])))
            names.append(f"{f:g}MHz.{key[0]}{'' if key[1] is None else key[1]}")
        errors = 0.0
        for key in (k for k in by_q if k[0] in _ERRORS):
            vals = [v for _, v in sorted(by_q[key])]
            errors += max(vals[-1] - vals[0], 0.0) if len(vals) > 1 else 0.0
        features.append(errors / hold_s)
        names.append(f"{f:g}MHz.hw_errors_per_s")
    return np.array(features), names


def respond(
    url: str, challenge: Challenge, capture: Path | None = None
) -> tuple[np.ndarray, list[str], dict]:
    """Run the challenge on a device (recording a capture if asked); returns the response
    vector, feature names and the device identity."""
    run = run_challenge(url, challenge, capture)
    x, names = response_from_events(run["spec"], challenge, run["steps"], run["shares"], run["telemetry"])
    return x, names, run["identity"]


def response_from_capture(path: str | Path) -> tuple[np.ndarray, list[str], dict, Challenge]:
    """Recompute the response from a capture written by :func:`run_challenge`."""
    from asic_bridge.capture.store import open_capture
    from asic_bridge.models import SPECS

    with open_capture(path) as reader:
        meta = reader.metadata()
        shares = list(reader.events("shares"))
        telemetry = list(reader.events("telemetry"))
    extra = meta.get("extra") or {}
    raw = meta.get("puf_challenge") or extra.get("puf_challenge")
    steps = meta.get("puf_steps")
    if raw is None or steps is None or meta.get("device_model") not in SPECS:
        raise ValueError(f"{path} is not a fingerprint capture (no puf challenge/steps in its metadata)")
    challenge = Challenge(**{**raw, "frequencies_mhz": tuple(raw["frequencies_mhz"])})
    spec = SPECS[meta["device_model"]]
    x, names = response_from_events(spec, challenge, steps, shares, telemetry)
    identity = {"model": spec.model, "serial": meta.get("device_serial"), "url": meta.get("device_url")}
    return x, names, identity, challenge


@dataclass
class Profile:
    """An enrolled device: the mean response, the within-device spread, the challenge."""

    model: str
    serial: str
    challenge: Challenge
    names: list[str]
    mean: list[float]
    spread: list[float]
    runs: int
    threshold: float = 3.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Profile:
        raw = json.loads(text)
        raw["challenge"] = Challenge(
            **{**raw["challenge"], "frequencies_mhz": tuple(raw["challenge"]["frequencies_mhz"])}
        )
        return cls(**raw)


def spread_floor(mean: np.ndarray) -> np.ndarray:
    """Smallest spread a feature is credited with: 1 % of its magnitude, at least 1e-3."""
    return np.maximum(0.01 * np.abs(mean), 1e-3)


def enrol(responses: list[np.ndarray], names: list[str], identity: dict, challenge: Challenge) -> Profile:
    """A profile from at least two runs of the challenge."""
    if len(responses) < 2:
        raise ValueError("enrolment needs at least 2 runs to estimate the within-device spread")
    x = np.vstack(responses)
    mean = x.mean(axis=0)
    spread = np.maximum(x.std(axis=0, ddof=1), spread_floor(mean))
    return Profile(
        identity["model"],
        identity["serial"],
        challenge,
        list(names),
        mean.tolist(),
        spread.tolist(),
        len(responses),
    )


def score(profile_mean: np.ndarray, spread: np.ndarray, response: np.ndarray) -> float:
    """RMS z-distance of a response to an enrolled mean (smaller = more alike)."""
    return float(np.sqrt(np.mean(((response - profile_mean) / spread) ** 2)))


def error_rates(genuine: np.ndarray, impostor: np.ndarray) -> dict:
    """FAR/FRR over all thresholds and the equal-error rate (accept when score <= t)."""
    thresholds = np.unique(np.concatenate([genuine, impostor, [0.0, np.inf]]))
    far = np.array([(impostor <= t).mean() for t in thresholds])
    frr = np.array([(genuine > t).mean() for t in thresholds])
    i = int(np.argmin(np.abs(far - frr)))
    return {
        "thresholds": thresholds,
        "far": far,
        "frr": frr,
        "eer": float((far[i] + frr[i]) / 2),
        "eer_threshold": float(thresholds[i]),
    }


def evaluate_responses(
    responses: dict[str, list[np.ndarray]], rng: np.random.Generator, *, n_boot: int = 200
) -> dict:
    """Leave-one-run-out genuine scores and cross-serial impostor scores, with the within-
    device spread pooled over the serials' enrolment runs; EER with a bootstrap interval
    over serials (the unit that varies)."""
    serials = sorted(responses)
    if len(serials) < 2 or min(len(v) for v in responses.values()) < 3:
        raise ValueError("evaluation needs at least 2 serials with 3 runs each")
    runs = {s: np.vstack(v) for s, v in responses.items()}
    genuine: dict[str, list[float]] = {s: [] for s in serials}
    impostor: dict[str, list[float]] = {s: [] for s in serials}
    for s in serials:
        for held in range(len(runs[s])):
            enrol_x = np.delete(runs[s], held, axis=0)
            mean = enrol_x.mean(axis=0)
            pooled = np.sqrt(
                np.mean(
                    [
                        np.var(np.delete(runs[t], held % len(runs[t]), axis=0), axis=0, ddof=1)
                        for t in serials
                    ],
                    axis=0,
                )
            )
            spread = np.maximum(pooled, spread_floor(mean))
            genuine[s].append(score(mean, spread, runs[s][held]))
            for t in serials:
                if t != s:
                    impostor[s].append(score(mean, spread, runs[t][held % len(runs[t])]))
    g = np.concatenate([genuine[s] for s in serials])
    im = np.concatenate([impostor[s] for s in serials])
    rates = error_rates(g, im)
    boot = []
    for _ in range(n_boot):
        pick = rng.choice(serials, len(serials), replace=True)
        bg = np.concatenate([genuine[s] for s in pick])
        bi = np.concatenate([impostor[s] for s in pick])
        boot.append(error_rates(bg, bi)["eer"])
    low, high = np.quantile(boot, [0.025, 0.975])
    return {
        "serials": len(serials),
        "runs_per_serial": min(len(v) for v in responses.values()),
        "genuine_scores": g.tolist(),
        "impostor_scores": im.tolist(),
        "eer": rates["eer"],
        "eer_ci": [float(low), float(high)],
        "eer_threshold": rates["eer_threshold"],
        "far_at_eer": float(rates["far"][np.argmin(np.abs(rates["far"] - rates["frr"]))]),
        "interval": "bootstrap over serials (200 resamples), percentile 95 %",
        "_rates": rates,
    }


def far_frr_at(result: dict, threshold: float) -> dict:
    """FAR and FRR at a threshold, with Clopper-Pearson intervals."""
    from reservoir.hashrate import clopper_pearson

    g = np.array(result["genuine_scores"])
    im = np.array(result["impostor_scores"])
    fa, fr = int((im <= threshold).sum()), int((g > threshold).sum())
    return {
        "threshold": threshold,
        "far": fa / len(im),
        "far_ci": list(clopper_pearson(fa, len(im))),
        "frr": fr / len(g),
        "frr_ci": list(clopper_pearson(fr, len(g))),
    }


def det_plot(result: dict, path: Path, title: str) -> None:
    """FAR vs FRR (DET-style, linear axes) with the EER point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = result["_rates"]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot(r["far"], r["frr"], "-", label="FAR vs FRR over thresholds")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="EER line")
    ax.plot(
        [result["eer"]],
        [result["eer"]],
        "ro",
        label=f"EER {result['eer']:.3f} [{result['eer_ci'][0]:.3f}, {result['eer_ci'][1]:.3f}]",
    )
    ax.set_xlabel("false-accept rate")
    ax.set_ylabel("false-reject rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_evaluation(
    model: str,
    out: Path,
    *,
    serials: int = 6,
    runs: int = 3,
    seed: int = 0,
    challenge: Challenge | None = None,
) -> dict:
    """Many emulated serials of one model, repeated runs each (distinct seeds = distinct noise)."""
    from asic_bridge.models import SPECS

    if model not in SPECS:
        raise ValueError(f"unknown model {model!r}; models: {sorted(SPECS)}")
    challenge = challenge or default_challenge(SPECS[model])
    responses: dict[str, list[np.ndarray]] = {}
    names: list[str] = []
    for i in range(serials):
        serial = f"{model.upper()}-PUF-{i:04d}"
        for r in range(runs):
            x, names, _ = respond(f"emu://{model}?serial={serial}&seed={seed * 1000 + i * 10 + r}", challenge)
            responses.setdefault(serial, []).append(x)
    rng = np.random.default_rng(seed)
    result = evaluate_responses(responses, rng)
    # the control: one serial's silicon under two names (runs differ only in their noise seed)
    first = sorted(responses)[0]
    twin = [
        respond(f"emu://{model}?serial={first}&seed={seed * 1000 + 900 + r}", challenge)[0]
        for r in range(runs)
    ]
    control = evaluate_responses({"name-A": responses[first], "name-B": twin}, rng)
    out.mkdir(parents=True, exist_ok=True)
    det_plot(result, out / "det.png", f"{model}: {serials} serials x {runs} runs")
    at = far_frr_at(result, result["eer_threshold"])
    report = {
        "model": model,
        "challenge": asdict(challenge),
        "features": names,
        "serials": serials,
        "runs": runs,
        "seed": seed,
        **{k: v for k, v in result.items() if not k.startswith("_")},
        "at_eer_threshold": at,
        "control_same_silicon": {
            "eer": control["eer"],
            "eer_ci": control["eer_ci"],
            "meaning": "one serial under two names: EER near 0.5 expected",
        },
        "control_note": "an EER near 0.5 means runs of one serial are no closer than runs of another",
        "plots": ["det.png"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(_markdown(report))
    return report


def _markdown(report: dict) -> str:
    at = report["at_eer_threshold"]
    ch = report["challenge"]
    return "\n".join(
        [
            "# Device fingerprints (hashrc puf evaluate)",
            "",
            f"Model {report['model']}: {report['serials']} emulated serials x {report['runs']} runs "
            f"(seeds differ per run). Challenge: clocks {ch['frequencies_mhz']} MHz at "
            f"{ch['core_voltage_mv']} mV, difficulty {ch['difficulty']}, {ch['settle_s']} s settle + "
            f"{ch['hold_s']} s per step. Features "
            f"({len(report['features'])}): {', '.join(report['features'])}.",
            "",
            f"Equal-error rate {report['eer']:.3f}, 95 % interval [{report['eer_ci'][0]:.3f}, "
            f"{report['eer_ci'][1]:.3f}] ({report['interval']}); chance is 0.5. Control (one serial's "
            f"silicon under two names): EER {report['control_same_silicon']['eer']:.3f} "
            f"[{report['control_same_silicon']['eer_ci'][0]:.3f}, "
            f"{report['control_same_silicon']['eer_ci'][1]:.3f}].",
            "",
            f"At the EER threshold {at['threshold']:.3f}: FAR {at['far']:.3f} [{at['far_ci'][0]:.3f}, "
            f"{at['far_ci'][1]:.3f}], FRR {at['frr']:.3f} [{at['frr_ci'][0]:.3f}, {at['frr_ci'][1]:.3f}] "
            f"(Clopper-Pearson; {len(report['impostor_scores'])} impostor and "
            f"{len(report['genuine_scores'])} genuine comparisons, not independent).",
            "",
            "Published: a distinguishable 'silicon signature' per chip; no features, device count or "
            "accuracy given.",
            "",
            "![DET](det.png)",
            "",
        ]
    )
