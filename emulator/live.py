"""The emulator in real time: one physics model behind every live face.

:class:`LiveEmulator` runs an :class:`~emulator.device.EmulatedDevice` on a thread that
keeps simulated time equal to wall time (times ``speed``). The same running model then
serves:

* the management-API faces, as a :class:`emulator.faces.ModelSnapshotSource`;
* the chip-UART face, as a :class:`emulator.faces.uart.ChainPhysics`;
* the live Stratum miner, through :meth:`LiveEmulator.subscribe_shares`: a callback
  for every share, up to ``lookahead_s`` before the moment the host would receive it
  (firmware batching and the modelled network latency included), so that the consumer
  can act at exactly :meth:`LiveEmulator.monotonic_at` of its ``t_ns`` instead of on the
  model's tick; the miner answers it with a real nonce.

The model runs ``lookahead_s`` ahead of the wall clock, so a knob change reaches it up to
that much later than it was made (one tick, 50 ms by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from asic_bridge.events import ShareEvent, ShareOutcome
from emulator.device import NS, EmulatedDevice

ShareCallback = Callable[[ShareEvent], None]

INPUT_VOLTAGE_MV = {"lv06": 5000.0, "s9": 12_000.0, "lbbox": 12_000.0}
FANS = {"lv06": 1, "s9": 2, "lbbox": 2}


class LiveEmulator:
    """A device model advanced in real time. Thread-safe; a context manager."""

    def __init__(
        self,
        model: str,
        *,
        serial: str | None = None,
        seed: int = 0,
        difficulty: float | None = None,
        tick_s: float = 0.05,
        lookahead_s: float | None = None,
        speed: float = 1.0,
        warm_up_s: float = 900.0,
    ) -> None:
        if tick_s <= 0 or speed <= 0:
            raise ValueError("tick_s and speed must be positive")
        self.lookahead_ns = round((tick_s if lookahead_s is None else lookahead_s) * NS)
        if self.lookahead_ns < 0:
            raise ValueError("lookahead_s must be >= 0")
        self.device = EmulatedDevice(
            model, serial=serial, seed=seed, difficulty=difficulty, warm_up_s=warm_up_s
        )
        self.model = self.device.spec.model
        self.tick_s = tick_s
        self.speed = speed
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribers: list[ShareCallback] = []
        self._t0 = time.monotonic()
        self._uptime_t0 = self._t0
        self._accepted = 0
        self._rejected = 0
        self._hw_errors_base = 0  # the firmware counter at the last restart
        self._best_diff = 0.0
        self._hashes_since_start = 0.0

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> LiveEmulator:
        if self._thread is None:
            self._t0 = time.monotonic() - self.device.now_ns / NS / self.speed
            self._thread = threading.Thread(target=self._run, name=f"live:{self.model}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LiveEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe_shares(self, callback: ShareCallback) -> None:
        """Call ``callback(share)`` (from the model's thread) for each share, at most
        ``lookahead_s`` before it reaches the host at :meth:`monotonic_at` ``(share.t_ns)``."""
        with self._lock:
            self._subscribers.append(callback)

    def monotonic_at(self, t_ns: int) -> float:
        """The ``time.monotonic()`` value at which model time ``t_ns`` happens."""
        return self._t0 + t_ns / NS / self.speed

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            target_ns = round((time.monotonic() - self._t0) * self.speed * NS) + self.lookahead_ns
            with self._lock:
                if target_ns > self.device.now_ns:
                    before = self.device.now_ns
                    self.device.advance_to(target_ns)
                    state = self.device.last_state
                    self._hashes_since_start += float(
                        np.sum(state.hashrate_hs)) * (target_ns - before) / NS
                    self._dispatch()

    def _dispatch(self) -> None:
        for event in self.device.events():
            if not isinstance(event, ShareEvent):
                continue
            if event.outcome is ShareOutcome.ACCEPTED:
                self._accepted += 1
                self._best_diff = max(self._best_diff, event.share_difficulty)
            for callback in self._subscribers:
                callback(event)

    # --- knobs (firmware-level: no envelope here, the bridge enforces it) ----------------
    def set_difficulty(self, difficulty: float) -> None:
        """The pool's share difficulty for this miner (sets the modelled share rate)."""
        with self._lock:
            self.device.difficulty = float(difficulty)

    def set_frequency_mhz(self, *args: float | int | None) -> None:
        """``set_frequency_mhz(mhz)`` (all chips; API faces) or
        ``set_frequency_mhz(chip, mhz)`` (one chip or ``None`` for all; UART face)."""
        if len(args) == 1:
            chip, mhz = None, args[0]
        elif len(args) == 2:
            chip, mhz = args
        else:
            raise TypeError("set_frequency_mhz(mhz) or set_frequency_mhz(chip, mhz)")
        with self._lock:
            self.device.physics.set_frequency_mhz(float(mhz), None if chip is None else int(chip))

    def set_core_voltage_mv(self, mv: float) -> None:
        with self._lock:
            self.device.knob_core_mv = float(mv)
            self.device.physics.set_core_voltage_mv(float(mv))

    def set_fan_pct(self, pct: float) -> None:
        with self._lock:
            self.device.physics.set_fan_pct(float(pct))

    def restart(self) -> None:
        """Firmware reboot: uptime and session counters start again."""
        with self._lock:
            self._uptime_t0 = time.monotonic()
            self._accepted = self._rejected = 0
            self._hw_errors_base = int(self.device.telemetry_sampler.hw_errors_total.sum())
            self._best_diff = 0.0
            self._hashes_since_start = 0.0

    # --- ChainPhysics (UART face) --------------------------------------------------------
    @property
    def chip_count(self) -> int:
        return self.device.spec.chip_count

    def frequency_mhz(self, chip: int) -> float:
        with self._lock:
            return float(self.device.physics.freq_mhz[chip])

    def hashrate_hs(self, chip: int) -> float:
        with self._lock:
            return float(self.device.last_state.hashrate_hs[chip])

    def hw_error_probability(self, chip: int) -> float:
        with self._lock:
            return float(self.device.last_state.error_probability[chip])

    # --- ModelSnapshotSource (API faces) -------------------------------------------------
    def snapshot(self):  # -> emulator.faces.Snapshot
        from emulator.faces import ChainSnapshot, Snapshot

        with self._lock:
            dev = self.device
            ph = dev.physics
            state = dev.last_state
            spec = dev.spec
            profile = dev.profile
            sampler = dev.telemetry_sampler
            uptime = time.monotonic() - self._uptime_t0
            hashrate = float(np.sum(sampler.hashrate_ghs_est))
            average = self._hashes_since_start / max(uptime * self.speed, 1e-9) / 1e9
            input_mv = INPUT_VOLTAGE_MV[self.model]
            fan_rpm = state.fan_pct / 100.0 * profile.fan_max_rpm
            per_chain_die = ph.die_c.reshape(spec.chains, -1)
            board_c = sampler.board_temp_c()
            chains = [
                ChainSnapshot(
                    hashrate_ghs=float(sampler.hashrate_ghs_est[i]),
                    chips=spec.chips_per_chain,
                    chip_temp_c=float(per_chain_die[i].max()),
                    board_temp_c=float(board_c[i]),
                    frequency_mhz=float(ph.freq_mhz.reshape(spec.chains, -1)[i].mean()),
                    hw_errors=int(sampler.hw_errors_total[i]),
                )
                for i in range(spec.chains)
            ]
            return Snapshot(
                model=self.model,
                hashrate_ghs=hashrate,
                hashrate_avg_ghs=average if self._hashes_since_start else hashrate,
                power_w=state.wall_power_w,
                input_voltage_mv=input_mv,
                input_current_ma=state.wall_power_w / input_mv * 1e6,
                chip_temps_c=[float(t) for t in ph.die_c],
                vr_temp_c=sampler.vr_temp_c(state),
                fan_rpm=[fan_rpm] * FANS[self.model],
                fan_pct=state.fan_pct,
                frequency_mhz=float(ph.freq_mhz.mean()),
                core_voltage_mv=dev.knob_core_mv,
                core_voltage_actual_mv=float(ph.core_mv.mean()) * profile.chip_voltage_divisor,
                shares_accepted=self._accepted,
                shares_rejected=self._rejected,
                hw_errors=int(sampler.hw_errors_total.sum()) - self._hw_errors_base,
                best_diff=self._best_diff,
                uptime_s=uptime,
                chains=chains,
                overheat_mode=bool(state.tripped),
            )
