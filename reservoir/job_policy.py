"""Job policies compared on the emulator's network model: stale rate and effective hashrate
of the NORMAL pool against LATENCY_HIDING (and a control), on the same shares.

One run, on a simulated clock (seconds from 0 to ``duration_s``):

* the device: :class:`emulator.device.EmulatedDevice` of the model and seed gives every
  share's chip time (``t_found_ns``) and the time it reaches the pool (firmware batching
  and the profile's network latency, :class:`emulator.host_view.HostLatency`);
* the pool: the real sans-IO :class:`asic_bridge.stratum.pool.Pool` and its session,
  talking Stratum lines with the real sans-IO miner codec
  (:class:`asic_bridge.stratum.client.ClientSession`); its notifies reach the miner after
  one draw of the same network model each (in order, as on one TCP stream);
* the firmware: it dispatches one piece of pre-built work to the chips every
  ``dispatch_s`` from a queue it keeps about ``queue_depth`` deep. A ``clean_jobs=true``
  notify empties the queue and dispatches new work at once; a ``clean_jobs=false``
  notify's work waits behind the queued work of the older job (next dispatch tick plus
  ``queue_depth`` dispatches). ESP-Miner (LV06): one job every 2,000 ms for the BM1366
  (``ASIC_get_asic_job_frequency_ms``), queue topped up to 10 (``QUEUE_LOW_WATER_MARK``
  in create_jobs_task.c), on clean_jobs the queue cleared and the ASIC task woken. For
  the S9 and the LB-Box, estimates: one 2^32 nonce range per chip between dispatches and
  one queued work (cgminer's default ``--queue 1``), flushed on clean_jobs. A share
  belongs to the job the chip held when it found it; the miner submits every share and
  the pool judges it;
* jobs rotate every ``job_interval_s``; blocks change at the times of a Poisson process
  (mean ``block_interval_s``, the same times for every policy) with ``clean_jobs=true``.

Policies: ``normal`` (the pool as shipped: every timer job clean, so older jobs turn
stale at each rotation), ``latency-hiding`` (:mod:`asic_bridge.stratum.prefetch`: next
job ``lead_s`` before the rotation, clean_jobs=false, older jobs expire at the rotation)
and the control ``normal-nonclean`` (timer jobs with clean_jobs=false and no expiry,
which is what public pools do between blocks).

Simplifications, said in the report: nonces are drawn, not mined (as everywhere on the
simulated clock), so the pool's difficulty is set below the hash floor and its check
judges job validity only (stale, duplicate, unknown job); the work is counted at the
device's share difficulty. The firmware's queue is a fixed depth (no build time, no
partial refill).

The same device seed gives the same shares under every policy, so the comparison is
paired per share: the change in accepted shares is (b - c) where b shares are accepted
only under the new policy and c only under the old; its exact interval comes from the
binomial of b given b + c (exact McNemar, Clopper-Pearson). The unpaired interval (two
separate runs, as on hardware) is given next to it. A difference whose interval holds
zero is labelled noise; so is a hashrate above nominal whose interval holds nominal.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from reservoir.hashrate import TWO32, clopper_pearson, poisson_interval

POLICIES = ("normal", "latency-hiding", "normal-nonclean")
POOL_DIFFICULTY = 2.0**-33
"""Below the hash floor (DIFF1_TARGET / 2**256 ~ 2**-32): every drawn nonce meets it."""


def dispatch_interval_s(model: str) -> tuple[float, str]:
    """Seconds between the firmware's work dispatches to the chips, and its source."""
    from asic_bridge.models import SPECS

    if model == "lv06":
        return 2.0, "ESP-Miner asic_task.c: BM1366 ASIC job interval 2,000 ms"
    spec = SPECS[model]
    per_chip_hs = spec.nominal_hashrate_ghs * 1e9 / spec.chip_count
    return TWO32 / per_chip_hs, "estimate: one 2^32 nonce range per chip between dispatches"


def queue_depth(model: str) -> tuple[int, str]:
    """Pre-built work the firmware keeps queued ahead of the chips, and its source."""
    if model == "lv06":
        return 10, "ESP-Miner create_jobs_task.c: QUEUE_LOW_WATER_MARK 10"
    return 1, "estimate: cgminer's default --queue 1"


def covering_lead_s(model: str, job_interval_s: float = 30.0, margin_s: float = 1.0) -> float:
    """A prefetch lead that covers the firmware's switch time to a clean_jobs=false job
    (next dispatch, then the queue: (depth + 1) x dispatch, plus ``margin_s``), kept
    below the job interval: the best case for the latency-hiding policy."""
    d, q = dispatch_interval_s(model)[0], queue_depth(model)[0]
    return min((q + 1) * d + margin_s, 0.95 * job_interval_s)


@dataclass(frozen=True)
class PolicyConfig:
    """One comparison. Times in seconds; ``dispatch_s`` and ``queue_depth`` None take the
    model's firmware values."""

    duration_s: float = 600.0
    job_interval_s: float = 30.0
    lead_s: float = 3.0
    block_interval_s: float = 600.0
    seeds: tuple[int, ...] = tuple(range(8))
    dispatch_s: float | None = None
    queue_depth: int | None = None
    policies: tuple[str, ...] = POLICIES

    def __post_init__(self) -> None:
        if not self.duration_s > 0 or not self.job_interval_s > 0 or not self.block_interval_s > 0:
            raise ValueError("duration, job interval and block interval must be positive seconds")
        if not 0 <= self.lead_s < self.job_interval_s:
            raise ValueError(f"lead {self.lead_s} s must be in [0, job interval {self.job_interval_s} s)")
        if not self.seeds:
            raise ValueError("need at least one seed")
        unknown = set(self.policies) - set(POLICIES)
        if unknown or "normal" not in self.policies:
            raise ValueError(f"policies must include normal and be among {POLICIES}")


@dataclass
class RunResult:
    """One policy on one seed: counts of shares found in [0, duration) and their outcomes,
    and per share (in found order) whether it was accepted."""

    policy: str
    seed: int
    duration_s: float
    difficulty: float
    submitted: int = 0
    accepted: int = 0
    stale: int = 0
    other: int = 0
    notifies: int = 0
    accepted_mask: list[bool] = field(default_factory=list, repr=False)

    @property
    def ghs(self) -> float:
        return self.accepted * self.difficulty * TWO32 / self.duration_s / 1e9


def _shares(model: str, seed: int, duration_s: float):
    """The device's shares found in [0, duration): (found s, arrival s, nonce), and its
    share difficulty."""
    from asic_bridge.events import ShareEvent
    from emulator.device import EmulatedDevice

    device = EmulatedDevice(model, seed=seed, serial=f"{model.upper()}-POLICY-{seed:04d}")
    device.clock.sleep(duration_s + 5.0)  # late arrivals of shares found before the end
    rows = [
        (e.t_found_ns / 1e9, e.t_ns / 1e9, e.nonce)
        for e in device.events()
        if isinstance(e, ShareEvent) and e.t_found_ns is not None and e.t_found_ns < duration_s * 1e9
    ]
    rows.sort()
    return rows, float(device.difficulty), device.profile


def simulate(
    model: str, policy: str, seed: int, config: PolicyConfig, _cache: dict | None = None
) -> RunResult:
    """One policy on one seed (see the module docstring)."""
    from asic_bridge.events import ShareEvent
    from asic_bridge.stratum.client import ClientSession, NewJob
    from asic_bridge.stratum.jobs import SyntheticJobSource
    from asic_bridge.stratum.messages import LineSplitter
    from asic_bridge.stratum.pool import JobPolicy, Pool, PoolConfig
    from asic_bridge.stratum.prefetch import LatencyHidingJobs
    from emulator.host_view import HostLatency

    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {POLICIES}")
    key = (model, seed, config.duration_s)
    if _cache is not None and key in _cache:
        shares, difficulty, profile = _cache[key]
    else:
        shares, difficulty, profile = _shares(model, seed, config.duration_s)
        if _cache is not None:
            _cache[key] = (shares, difficulty, profile)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x10B]))
    down = HostLatency(profile, rng)
    dispatch = config.dispatch_s if config.dispatch_s is not None else dispatch_interval_s(model)[0]
    depth = config.queue_depth if config.queue_depth is not None else queue_depth(model)[0]
    phase = float(rng.uniform(0.0, dispatch)) if dispatch > 0 else 0.0
    blocks: list[float] = []
    t = float(rng.exponential(config.block_interval_s))
    while t < config.duration_s:
        blocks.append(t)
        t += float(rng.exponential(config.block_interval_s))
    down_draws = iter(down.one_way_s(4 * (len(blocks) + int(config.duration_s / config.job_interval_s)) + 16))

    sink: list = []
    pool = Pool(
        PoolConfig(
            difficulty=POOL_DIFFICULTY, min_difficulty=POOL_DIFFICULTY / 2, extranonce2_size=4,
            policy=JobPolicy.LATENCY_HIDING if policy == "latency-hiding" else JobPolicy.NORMAL,
            job_interval_s=config.job_interval_s, prefetch_lead_s=config.lead_s,
        ),
        job_source=SyntheticJobSource(seed=seed), sink=sink.append, seed=seed,
    )  # fmt: skip
    outbox: list[bytes] = []
    session = pool.open_session(outbox.append, peer="sim")
    client = ClientSession(user="sim", version_rolling=False)
    pool.new_job()
    splitter = LineSplitter()
    for line in splitter.feed(client.handshake()):
        session.handle_line(line, t_ns=0)

    heap: list = []
    order = itertools.count()
    result = RunResult(policy, seed, config.duration_s, difficulty)
    # the firmware: its last dispatch time (the tick grid), the generation of its queue
    # (a clean notify empties it) and when the newest queued job reaches the chips
    state = {"job": None, "last_arrival": 0.0, "tick0": phase, "gen": 0, "last_switch": 0.0}

    def push(t_s: float, kind: str, payload=None) -> None:
        heapq.heappush(heap, (t_s, next(order), kind, payload))

    def flush(now_s: float, *, immediate: bool = False) -> None:
        """Lines the pool wrote: notifies travel to the miner, the rest is read at once."""
        data = b"".join(outbox)
        outbox.clear()
        for line in LineSplitter().feed(data):
            if b'"mining.notify"' in line and not immediate:
                arrive = max(now_s + float(next(down_draws)), state["last_arrival"])
                state["last_arrival"] = arrive
                result.notifies += 1
                push(arrive, "notify", line)
            else:
                for event in client.feed_line(line)[0]:
                    if isinstance(event, NewJob):
                        state["job"] = event.job

    flush(0.0, immediate=True)  # the first job is on the chip at 0
    schedule = None
    if policy == "latency-hiding":
        schedule = LatencyHidingJobs(
            pool, interval_s=config.job_interval_s, lead_s=config.lead_s, start_s=0.0
        )
        push(schedule.due_s(), "lh", schedule.due_s())
    else:
        for k in range(1, int(config.duration_s / config.job_interval_s) + 1):
            push(k * config.job_interval_s, "rotate")
    for b in blocks:
        push(b, "block")
    for i, (found, arrival, nonce) in enumerate(shares):
        push(found, "found", (i, arrival, nonce))
    outcome_of: dict[int, str] = {}

    while heap:
        now, _, kind, payload = heapq.heappop(heap)
        if kind == "rotate":
            pool.new_job(clean=policy == "normal")
            flush(now)
        elif kind == "lh":
            assert schedule is not None
            if payload != schedule.due_s():
                continue  # superseded by a restart
            schedule.step(now)
            flush(now)
            if schedule.due_s() < config.duration_s + config.job_interval_s:
                push(schedule.due_s(), "lh", schedule.due_s())
        elif kind == "block":
            pool.new_job(clean=True)
            flush(now)
            if schedule is not None:
                schedule.restart(now)
                push(schedule.due_s(), "lh", schedule.due_s())
        elif kind == "notify":
            for event in client.feed_line(payload)[0]:
                if not isinstance(event, NewJob):
                    continue
                if event.job.clean:  # queue emptied, new work dispatched at once
                    state["gen"] += 1
                    state["tick0"] = state["last_switch"] = now
                    state["job"] = event.job
                    continue
                tick0 = state["tick0"]
                tick = now if dispatch <= 0 else tick0 + math.ceil((now - tick0) / dispatch) * dispatch
                at = max(tick + depth * dispatch, state["last_switch"], now)
                state["last_switch"] = at
                push(at, "switch", (state["gen"], event.job))
        elif kind == "switch":
            gen, job = payload
            if gen == state["gen"]:  # else a clean notify emptied the queue meanwhile
                state["job"] = job
        elif kind == "found":
            i, arrival, nonce = payload
            job = state["job"]
            _, line = client.submit(job.job_id, i.to_bytes(4, "big"), job.ntime, nonce)
            push(max(arrival, now), "submit", (i, line))
        elif kind == "submit":
            i, line = payload
            before = len(sink)
            session.handle_line(line.rstrip(b"\n"), t_ns=round(now * 1e9))
            flush(now, immediate=True)
            for event in sink[before:]:
                if isinstance(event, ShareEvent):
                    outcome_of[i] = event.outcome.value
    for i in range(len(shares)):
        outcome = outcome_of.get(i, "lost")
        result.submitted += 1
        ok = outcome == "accepted"
        result.accepted_mask.append(ok)
        if ok:
            result.accepted += 1
        elif outcome == "stale":
            result.stale += 1
        else:
            result.other += 1
    return result


# --- statistics ------------------------------------------------------------------------


def noise_label(
    diff: float, ci: tuple[float, float], what: str = "difference", *, percent: bool = False
) -> str:
    """"noise" when the interval holds zero, else a gain or a loss beyond the interval
    (``percent``: the figures are fractions, shown in percent)."""
    low, high = ci
    k, unit = (100.0, " %") if percent else (1.0, "")
    span = f"[{k * low:+.4g}, {k * high:+.4g}]{unit}"
    if low <= 0 <= high:
        return f"noise: the {what} {k * diff:+.4g}{unit} lies inside its interval {span}"
    return f"{'gain' if diff > 0 else 'loss'} beyond the interval {span}"


def paired_difference(b: int, c: int, n: int, confidence: float = 0.95) -> dict:
    """Change in the accepted fraction of ``n`` paired shares when ``b`` are accepted only
    under the new policy and ``c`` only under the old: (b - c) / n. The interval treats b
    and c as Poisson counts (the shares that fall into a policy's vulnerable windows) and
    joins their exact Garwood intervals at level 1 - alpha/2 each (Bonferroni: coverage
    at least ``confidence``); the p-value is the exact McNemar test (b of b + c vs 1/2)."""
    if n <= 0:
        raise ValueError(f"need paired shares, got n={n}")
    each = 1 - (1 - confidence) / 2
    b_lo, b_hi = poisson_interval(b, each)
    c_lo, c_hi = poisson_interval(c, each)
    m = b + c
    return {
        "diff": (b - c) / n, "ci": [(b_lo - c_hi) / n, (b_hi - c_lo) / n], "b": b, "c": c, "n": n,
        "p": 1.0 if m == 0 else float(stats.binomtest(b, m, 0.5).pvalue),
        "interval": f"exact Poisson (Garwood) on b and c at {each:.1%} each, joined (Bonferroni, "
        f">= {confidence:.0%}); p: exact McNemar",
    }  # fmt: skip


def unpaired_ratio(k_new: int, k_old: int, confidence: float = 0.95) -> dict:
    """Ratio of two Poisson counts over equal exposure (two separate runs of equal length):
    exact conditional interval (k_new given k_new + k_old is binomial)."""
    m = k_new + k_old
    if m == 0 or k_old == 0:
        return {"ratio": None, "ci": [None, None]}
    lo, hi = clopper_pearson(k_new, m, confidence)
    return {
        "ratio": k_new / k_old,
        "ci": [lo / (1 - lo) if lo < 1 else math.inf, hi / (1 - hi) if hi < 1 else math.inf],
        "interval": "exact conditional binomial on the two counts (as if two separate runs)",
    }


def _arm_summary(runs: list[RunResult], nominal_ghs: float) -> dict:
    acc = sum(r.accepted for r in runs)
    sub = sum(r.submitted for r in runs)
    stale = sum(r.stale for r in runs)
    time_s = sum(r.duration_s for r in runs)
    d = runs[0].difficulty
    scale = d * TWO32 / time_s / 1e9
    lo, hi = poisson_interval(acc)
    ghs = acc * scale
    ci = [lo * scale, hi * scale]
    above = ghs > nominal_ghs
    if above and ci[0] <= nominal_ghs:
        verdict = "above nominal but inside the interval: noise"
    elif ci[0] > nominal_ghs:
        verdict = "above nominal beyond the interval"
    elif ci[1] < nominal_ghs:
        verdict = "below nominal beyond the interval"
    else:
        verdict = "consistent with nominal"
    return {
        "seeds": [r.seed for r in runs], "shares_submitted": sub, "accepted": acc, "stale": stale,
        "other_rejects": sum(r.other for r in runs),
        "stale_rate": stale / sub if sub else None, "stale_ci": list(clopper_pearson(stale, sub)),
        "effective_ghs": ghs, "effective_ci": ci, "nominal_ghs": nominal_ghs,
        "ratio_to_nominal": ghs / nominal_ghs, "verdict_vs_nominal": verdict,
        "notifies": sum(r.notifies for r in runs), "duration_s_total": time_s,
        "per_seed": [{"seed": r.seed, "submitted": r.submitted, "accepted": r.accepted,
                      "stale": r.stale, "ghs": r.ghs} for r in runs],
        "intervals": "exact Poisson (Garwood) 95 % on the accepted count; Clopper-Pearson 95 % on stale",
    }  # fmt: skip


def _pairwise(new: list[RunResult], old: list[RunResult], arm_new: dict, arm_old: dict) -> dict:
    """``new`` against ``old`` on the same seeds (the same shares)."""
    b = c = n = 0
    for x, y in zip(new, old, strict=True):
        if x.seed != y.seed or x.submitted != y.submitted:
            raise ValueError("policies must be compared on the same seeds and shares")
        b += sum(u and not v for u, v in zip(x.accepted_mask, y.accepted_mask, strict=True))
        c += sum(v and not u for u, v in zip(x.accepted_mask, y.accepted_mask, strict=True))
        n += x.submitted
    pair = paired_difference(b, c, n)
    base_rate = arm_old["accepted"] / n if n else 0.0
    gain = pair["diff"] / base_rate if base_rate else 0.0
    gain_ci = [x / base_rate for x in pair["ci"]] if base_rate else [0.0, 0.0]
    unpaired = unpaired_ratio(arm_new["accepted"], arm_old["accepted"])
    only_stale = arm_new["other_rejects"] == arm_old["other_rejects"] == 0
    return {
        "accepted_fraction_change": pair,
        "effective_hashrate_gain": gain, "effective_hashrate_gain_ci": gain_ci,
        "stale_rate_change": arm_new["stale_rate"] - arm_old["stale_rate"],
        # with no other rejects, stale = not accepted: its change is minus the accepted one
        "stale_rate_change_ci": [-pair["ci"][1], -pair["ci"][0]] if only_stale else None,
        "unpaired_ratio": unpaired,
        "verdict": noise_label(gain, (gain_ci[0], gain_ci[1]), "hashrate gain", percent=True),
        "verdict_unpaired": None if unpaired["ratio"] is None else noise_label(
            unpaired["ratio"] - 1, (unpaired["ci"][0] - 1, unpaired["ci"][1] - 1),
            "hashrate gain (as two separate runs)", percent=True),
    }  # fmt: skip


def compare(model: str, config: PolicyConfig) -> dict:
    """Every policy of ``config`` on every seed; the report (see the module docstring)."""
    from emulator.profiles import profile_for

    profile = profile_for(model)
    spec = profile.spec
    dispatch, dispatch_source = (
        (config.dispatch_s, "given") if config.dispatch_s is not None else dispatch_interval_s(model)
    )
    depth, depth_source = (
        (config.queue_depth, "given") if config.queue_depth is not None else queue_depth(model)
    )
    cache: dict = {}
    runs = {p: [simulate(model, p, s, config, cache) for s in config.seeds] for p in config.policies}
    # "nominal" for the effective hashrate: the emulated device's own expected valid rate
    # is its share difficulty x the shares the model draws; the rated figure is the spec's
    nominal = spec.nominal_hashrate_ghs
    arms = {p: _arm_summary(r, nominal) for p, r in runs.items()}
    pairs = [(p, "normal") for p in config.policies if p != "normal"]
    if "latency-hiding" in runs and "normal-nonclean" in runs:
        pairs.append(("latency-hiding", "normal-nonclean"))
    comparisons = {f"{new} vs {old}": _pairwise(runs[new], runs[old], arms[new], arms[old])
                   for new, old in pairs}  # fmt: skip
    return {
        "model": model, "config": asdict(config) | {"seeds": list(config.seeds)},
        "dispatch_s": dispatch, "dispatch_source": dispatch_source,
        "queue_depth": depth, "queue_source": depth_source,
        "firmware_switch_s": (depth + 1) * dispatch,
        "network": {"base_s": profile.net_base_s, "jitter_median_s": profile.net_jitter_median_s,
                    "spike_probability": profile.net_spike_probability,
                    "source": "emulator.profiles (both directions)"},
        "arms": arms, "comparisons": comparisons,
        "method": "simulated clock; real Pool/ServerSession and ClientSession codecs; shares paired per seed",
        "simplifications": [
            "nonces drawn, not mined: pool difficulty below the hash floor, work counted at the device's "
            "share difficulty",
            "firmware queue of fixed depth: clean_jobs empties it and dispatches at once; other "
            "notifies wait behind it (no build time, no partial refill)",
            "the miner submits every share; firmware that drops shares of abandoned jobs lowers the "
            "stale count but not the accepted one",
        ],
    }  # fmt: skip


def markdown(report: dict, command: str | None = None) -> str:
    """The report as Markdown (a section of report.md)."""
    cfg = report["config"]
    lines = [
        f"## Job policies on the emulated {report['model']} (simulated clock)", "",
        f"{len(cfg['seeds'])} seeds x {cfg['duration_s']:.0f} s; jobs every {cfg['job_interval_s']:.0f} s, "
        f"prefetch lead {cfg['lead_s']:.1f} s, blocks Poisson with mean {cfg['block_interval_s']:.0f} s; "
        f"firmware dispatch every {report['dispatch_s']:.3g} s ({report['dispatch_source']}), "
        f"{report['queue_depth']} queued ({report['queue_source']}); "
        f"network from the emulator profile ({report['network']['base_s'] * 1e3:.2f} ms base, "
        f"{report['network']['jitter_median_s'] * 1e3:.2f} ms median jitter).", "",
        "| policy | shares | accepted | stale rate [95 % CP] | effective GH/s [95 % Poisson] | vs nominal |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for p, a in report["arms"].items():
        lines.append(
            f"| {p} | {a['shares_submitted']} | {a['accepted']} | {a['stale_rate']:.5f} "
            f"[{a['stale_ci'][0]:.5f}, {a['stale_ci'][1]:.5f}] | {a['effective_ghs']:.2f} "
            f"[{a['effective_ci'][0]:.2f}, {a['effective_ci'][1]:.2f}] | {a['ratio_to_nominal']:.3f} x "
            f"nominal {a['nominal_ghs']:.1f}: {a['verdict_vs_nominal']} |"
        )
    lines += ["", "| comparison (same shares) | hashrate gain (paired, exact Poisson) | stale-rate change "
              "| as two separate runs |", "|---|---|---|---|"]  # fmt: skip
    for p, c in report["comparisons"].items():
        g, gci = c["effective_hashrate_gain"], c["effective_hashrate_gain_ci"]
        u = c["unpaired_ratio"]
        sci = c["stale_rate_change_ci"]
        lines.append(
            f"| {p} | {100 * g:+.3f} % [{100 * gci[0]:+.3f}, {100 * gci[1]:+.3f}] % ({c['verdict']}) | "
            f"{c['stale_rate_change']:+.5f}" + (f" [{sci[0]:+.5f}, {sci[1]:+.5f}]" if sci else "") + " | "
            + ("n/a" if u["ratio"] is None else f"ratio {u['ratio']:.4f} [{u['ci'][0]:.4f}, "
               f"{u['ci'][1]:.4f}] ({c['verdict_unpaired']})") + " |"
        )  # fmt: skip
    switch = report.get("firmware_switch_s")
    if switch is not None:
        lines += ["", f"The firmware reaches a clean_jobs=false job up to {switch:.3g} s after it arrives "
                  f"((queue + 1) x dispatch); a lead shorter than that lets the older job expire while the "
                  f"chip still hashes it (lead here {cfg['lead_s']:g} s)."]
    lines += ["", "Simplifications: " + "; ".join(report["simplifications"]) + "."]
    if command:
        lines += ["", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"


def add_to_report(out: Path, report: dict, *, fresh: bool) -> None:
    """Put the comparison into ``out/report.json`` (key ``job_policy``) and ``report.md``
    (a section): new files when ``fresh``, else added to a hashrate report there."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    body = {} if fresh or not json_path.is_file() else json.loads(json_path.read_text())
    body["job_policy"] = report
    json_path.write_text(json.dumps(body, indent=2, default=float))
    head = "# Job policies (hashrc hashrate --policy-compare)\n\n" if fresh or not md_path.is_file() else (
        md_path.read_text() + "\n")
    md_path.write_text(head + markdown(report, report.get("command")))


def summary_line(report: dict) -> list[str]:
    """One printed line per comparison (figure, interval, verdict)."""
    lines = []
    arms = report["arms"]
    for name, c in report["comparisons"].items():
        new, old = name.split(" vs ")
        g, ci = c["effective_hashrate_gain"], c["effective_hashrate_gain_ci"]
        lines.append(
            f"{report['model']} {name}: effective hashrate {100 * g:+.3f} % [{100 * ci[0]:+.3f}, "
            f"{100 * ci[1]:+.3f}] % (paired, same shares, {len(report['config']['seeds'])} seeds); "
            f"stale rate {arms[old]['stale_rate']:.4f} -> {arms[new]['stale_rate']:.4f}; {c['verdict']}"
        )
    return lines
