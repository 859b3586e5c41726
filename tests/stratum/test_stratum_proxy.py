"""Proxy mode over loopback, with a second instance of our server as the upstream pool."""

from __future__ import annotations

import time
from typing import Any

import pytest
from stratum_testminer import TestMiner

from asic_bridge.errors import DeviceError
from asic_bridge.events import JobEvent, ShareEvent, ShareOutcome
from asic_bridge.stratum.client import NewJob
from asic_bridge.stratum.jobs import SyntheticJobSource
from asic_bridge.stratum.pool import Pool, PoolConfig
from asic_bridge.stratum.proxy import ProxyThread
from asic_bridge.stratum.server import ServerThread

UP_DIFF, DOWN_DIFF = 4e-6, 1e-6
UP_DEVICE = "upstream/upuser"


def test_proxy_forwards_shares_meeting_upstream_difficulty() -> None:
    up_events: list[Any] = []
    proxy_events: list[Any] = []
    up_pool = Pool(
        PoolConfig(difficulty=UP_DIFF, job_interval_s=None, extranonce2_size=8),
        job_source=SyntheticJobSource(extranonce_size=12, seed=5),
        sink=up_events.append,
    )
    with (
        ServerThread(up_pool) as upstream,
        ProxyThread(
            upstream=upstream.address,
            user="upuser",
            config=PoolConfig(difficulty=DOWN_DIFF),
            sink=proxy_events.append,
        ) as proxy,
        TestMiner(proxy.address) as a,
        TestMiner(proxy.address) as b,
    ):
        a.handshake()
        b.handshake()
        assert a.client.extranonce2_size == 4
        assert a.client.extranonce1 != b.client.extranonce1
        assert a.client.extranonce1[:4] == b.client.extranonce1[:4]  # upstream en1
        ids_a, ids_b = a.mine(80_000), b.mine(80_000)
        assert set(a.wait_results(ids_a) + b.wait_results(ids_b)) == {ShareOutcome.ACCEPTED}
        down = [
            e for e in proxy_events if isinstance(e, ShareEvent) and e.device != "upstream/upuser"
        ]
        strong = [e for e in down if e.share_difficulty >= UP_DIFF]
        assert len(down) == len(ids_a) + len(ids_b) and strong
        deadline = time.monotonic() + 10
        while (
            proxy.proxy.stats()["upstream_accepted"] < len(strong) and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert proxy.proxy.stats() == {"forwarded": len(strong), "upstream_accepted": len(strong)}
        # a new upstream job reaches the downstream miners with its id
        job_id = upstream.server.new_job()
        assert a.wait_for(NewJob, 2)[-1].job.job_id == job_id
    up_shares = [e for e in up_events if isinstance(e, ShareEvent)]
    assert len(up_shares) == len(strong)
    assert all(
        e.outcome is ShareOutcome.ACCEPTED and e.device.startswith("upuser/") for e in up_shares
    )
    assert sorted(e.nonce for e in up_shares) == sorted(e.nonce for e in strong)
    verdicts = [
        e for e in proxy_events if isinstance(e, ShareEvent) and e.device == "upstream/upuser"
    ]
    assert len(verdicts) == len(strong)
    assert any(isinstance(e, JobEvent) and e.device == "upstream/upuser" for e in proxy_events)


def test_proxy_fails_cleanly_when_upstream_refuses() -> None:
    up_pool = Pool(PoolConfig(users={"alice": "pw"}), job_source=SyntheticJobSource(seed=1))
    with ServerThread(up_pool) as upstream:
        proxy = ProxyThread(upstream=upstream.address, user="mallory", connect_timeout_s=2)
        with pytest.raises(DeviceError, match="refused"):
            proxy.start()
        proxy.close()
