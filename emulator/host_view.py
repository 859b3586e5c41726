"""How a host sees the chip's results: firmware batching and network latency.

A nonce found at chip time t reaches the host at
``poll_boundary(t) + base + lognormal jitter (+ an occasional power-save hold)``, and,
since one TCP stream keeps order, never before the previous report.
"""

from __future__ import annotations

import math

import numpy as np

from emulator.profiles import PhysicsProfile


class HostLatency:
    """Delays from the chip to the host's socket, drawn from a seeded generator (seconds)."""

    def __init__(self, profile: PhysicsProfile, rng: np.random.Generator) -> None:
        self.poll_s = profile.report_poll_s
        self.base_s = profile.net_base_s
        self.jitter_mu = math.log(profile.net_jitter_median_s) if profile.net_jitter_median_s > 0 else None
        self.jitter_sigma = profile.net_jitter_sigma
        self.spike_p = profile.net_spike_probability
        self.spike_max_s = profile.net_spike_max_s
        self.rng = rng
        self._last_host_ns = 0

    def one_way_s(self, n: int) -> np.ndarray:
        """``n`` draws of the network's one-way latency (seconds)."""
        delay = np.full(n, self.base_s)
        if self.jitter_mu is not None:
            delay += self.rng.lognormal(self.jitter_mu, self.jitter_sigma, n)
        if self.spike_p > 0:
            spikes = self.rng.random(n) < self.spike_p
            delay += spikes * self.rng.uniform(0.0, self.spike_max_s, n)
        return delay

    def host_times_ns(self, found_s: np.ndarray) -> np.ndarray:
        """Host receive times (ns) of results found at ``found_s`` (sorted, seconds)."""
        reported = np.ceil(found_s / self.poll_s) * self.poll_s if self.poll_s > 0 else found_s
        host = np.rint((reported + self.one_way_s(len(found_s))) * 1e9).astype(np.int64)
        host = np.maximum.accumulate(np.maximum(host, self._last_host_ns))
        if len(host):
            self._last_host_ns = int(host[-1])
        return host
