"""``hashrc pool`` as a module: arguments, a short run that records a mined share."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import pytest
from stratum_testminer import TestMiner

from asic_bridge import __version__
from asic_bridge.capture import open_capture
from asic_bridge.events import ShareOutcome
from asic_bridge.stratum import commands


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_arguments() -> None:
    args = parse(
        "--listen",
        "127.0.0.1:4444",
        "--difficulty",
        "1e-4",
        "--policy",
        "one-in-flight",
        "--upstream",
        "stratum+tcp://127.0.0.2:3333",
        "--user",
        "u",
    )
    assert args.listen == ("127.0.0.1", 4444) and args.difficulty == 1e-4
    assert args.upstream == ("127.0.0.2", 3333) and args.policy == "one-in-flight"
    assert parse().listen == ("127.0.0.1", 3333)
    with pytest.raises(SystemExit):
        parse("--listen", "nonsense")
    assert parse("--listen", "127.0.0.1:0").listen == ("127.0.0.1", 0)  # any free port
    for bad in ("127.0.0.1:65536", "127.0.0.1:-1"):
        with pytest.raises(SystemExit):
            parse("--listen", bad)
    with pytest.raises(SystemExit):  # an upstream is connected to: port 0 is meaningless
        parse("--upstream", "127.0.0.1:0")
    assert isinstance(commands.HELP, str)


def test_upstream_needs_user() -> None:
    with pytest.raises(ValueError, match="--user"):
        commands.run(parse("--upstream", "127.0.0.1:1"))


def test_run_records_into_capture(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    path = tmp_path / "cap.sqlite"
    outcomes: list[ShareOutcome] = []

    def mine() -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                miner = TestMiner(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with miner:
            miner.handshake()
            outcomes.extend(miner.wait_results(miner.mine(30_000)))

    t = threading.Thread(target=mine)
    t.start()
    args = parse(
        "--listen",
        f"127.0.0.1:{port}",
        "--difficulty",
        "1e-6",
        "--capture",
        str(path),
        "--duration",
        "1.5",
    )
    assert commands.run(args) == 0
    t.join(10)
    assert outcomes and set(outcomes) == {ShareOutcome.ACCEPTED}
    with open_capture(path) as reader:
        meta = reader.metadata()
        assert reader.count("shares") == len(outcomes)
    assert meta["device_model"] == "unknown" and meta["seed"] is None and meta["clock"] == "wall"
    assert meta["hashrc_version"] == __version__ and meta["start_time"] and "task" in meta
