"""Stratum V1: a sans-IO protocol core, an asyncio pool server and a proxy.

Core (no sockets): :mod:`~asic_bridge.stratum.messages` (line codec),
:mod:`~asic_bridge.stratum.methods` (typed params), :mod:`~asic_bridge.stratum.jobs`
(jobs, header rebuilding, job sources), :mod:`~asic_bridge.stratum.shares` (share
checking), :mod:`~asic_bridge.stratum.rejects` (error styles),
:mod:`~asic_bridge.stratum.session` / :mod:`~asic_bridge.stratum.pool` (pool state
machine), :mod:`~asic_bridge.stratum.client` (miner side). Transports:
:mod:`~asic_bridge.stratum.server`, :mod:`~asic_bridge.stratum.proxy` (import them
explicitly).
"""

from asic_bridge.stratum.client import ClientSession, scan_nonces
from asic_bridge.stratum.jobs import Job, JobSource, SyntheticJobSource, TemplateJobSource
from asic_bridge.stratum.messages import MAX_LINE_BYTES, LineSplitter, parse_message
from asic_bridge.stratum.pool import EventSink, JobPolicy, Pool, PoolConfig
from asic_bridge.stratum.rejects import ErrorStyle
from asic_bridge.stratum.session import ServerSession
from asic_bridge.stratum.shares import ShareCheck, check_share
from asic_bridge.stratum.vardiff import VarDiffConfig

__all__ = [
    "MAX_LINE_BYTES",
    "ClientSession",
    "ErrorStyle",
    "EventSink",
    "Job",
    "JobPolicy",
    "JobSource",
    "LineSplitter",
    "Pool",
    "PoolConfig",
    "ServerSession",
    "ShareCheck",
    "SyntheticJobSource",
    "TemplateJobSource",
    "VarDiffConfig",
    "check_share",
    "parse_message",
    "scan_nonces",
]
