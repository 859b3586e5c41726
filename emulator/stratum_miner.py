"""Emulated live miners: real Stratum V1 clients that submit real nonces at the moments
the physics model says the device finds them.

Each :class:`EmulatedStratumMiner` is one device: a :class:`~emulator.live.LiveEmulator`
(the physics in real time) and one pool connection spoken through the pool side's
sans-IO :class:`~asic_bridge.stratum.client.ClientSession`, in ESP-Miner's order
(``mining.configure`` asking version rolling with mask ``ffffffff``, ``mining.subscribe``,
``mining.authorize``, optionally ``mining.suggest_difficulty``). It answers
``mining.ping``, follows ``set_difficulty``, ``notify``, ``set_version_mask``,
``set_extranonce``, logs ``client.show_message`` and reconnects on ``client.reconnect``.

Mining: a :class:`StratumMinerFarm` shares one pool of hashing processes
(:class:`~emulator.mining.HashWorkers`) between all its miners and keeps a small buffer
of genuine solutions per miner for its current job at its pool difficulty (extranonce2
a little-endian counter, the version rolled inside the negotiated mask). When the model
reports a share (firmware batching and network latency applied), the miner submits one
buffered solution at once, with ``version_bits`` = rolled version XOR job version, as
ESP-Miner does. So *when* shares arrive is physics; *what* arrives verifies at the pool.

Choices, each documented where it matters:

* **Hardware errors are not submitted.** ESP-Miner computes each nonce's difficulty and
  submits only those reaching the pool difficulty; a chip's wrong result never does, so
  a real LV06 never sends one. They are counted (:attr:`MinerStats.hardware_errors`).
* **Starvation is reported, never faked.** If no mined solution is ready when the model
  reports a share, the share is counted as starved (:attr:`MinerStats.starved`) and a
  warning (rate-limited) gives the measured host hash rate against the rate needed.
* **Hash-rate scale.** A modelled device hashes at hundreds of GH/s, a CPU at a few MH/s.
  The model's share process therefore runs at ``pool difficulty / hashrate_scale``: the
  emulated miner behaves like its device scaled down by ``hashrate_scale`` in hash rate
  (temperatures, errors, latencies unchanged), so its share rate is
  ``hashrate x hashrate_scale x speed / (difficulty x 2**32)`` per second. With
  ``hashrate_scale=1`` the model's difficulty is the pool's (faithful, but only
  affordable at huge difficulties). ``None`` picks the scale at which all miners together
  need half the host's measured hash rate, whatever the pool's difficulty.
* **Timing.** The live model runs one tick (``tick_s``) ahead and hands each share over
  early with its due time; the submit is scheduled on the event loop for exactly that
  time (``loop.call_at``), so it leaves within the loop's timer resolution (~1 ms) of the
  modelled arrival rather than on the model's tick.
* **LBRY** (LB-Box): the 10-parameter notify with the claim-trie root, LBRY proof of
  work; no version rolling (LBRY pools do not offer BIP310).

Modules: :mod:`emulator.miner_connection` (one miner's pool connection and solution
buffer), :mod:`emulator.miner_farm` (the farm, its thread, ``run_stratum_miners``),
:mod:`emulator.miner_stats` (counters); the nonce search itself is
:mod:`emulator.mining`. This module re-exports their public names.
"""

from __future__ import annotations

from emulator.miner_connection import EmulatedStratumMiner
from emulator.miner_farm import MinerFarmThread, StratumMinerFarm, run_stratum_miners
from emulator.miner_stats import FarmStats, MinerStats

__all__ = [
    "EmulatedStratumMiner",
    "FarmStats",
    "MinerFarmThread",
    "MinerStats",
    "StratumMinerFarm",
    "run_stratum_miners",
]
