"""Capture writer under a flood, at its queue bound, with a full disk, and its durability."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from asic_bridge.capture import CaptureReader, CaptureWriter
from asic_bridge.capture.commands.captures import summarise
from asic_bridge.errors import CaptureError
from asic_bridge.events import ShareEvent, ShareOutcome

FLOOD_S = 2.5
FLOOD_MAX_EVENTS = 5_000_000


def _share(i: int) -> ShareEvent:
    return ShareEvent(i, "dev/00000001", "1", i & 0xFFFFFFFF, 1.0, 2.0, ShareOutcome.ACCEPTED)


def test_commits_keep_coming_under_a_flood(tmp_path: Path) -> None:
    """A producer writing as fast as it can (far faster than the disk takes) must neither
    stop the commits (the old writer drained "until empty" and never committed) nor grow
    the queue past its bound; the figures land in the file and in `captures show`."""
    commits: list[float] = []
    backlog_seen: list[int] = []
    writer = CaptureWriter(
        tmp_path / "flood.sqlite", metadata={}, batch_interval_s=0.5,
        on_commit=lambda _n: commits.append(time.monotonic()),
    )
    events = [_share(i) for i in range(10_000)]
    stop = threading.Event()

    def produce() -> None:
        n = 0
        t_end = time.monotonic() + FLOOD_S
        while n < FLOOD_MAX_EVENTS and time.monotonic() < t_end and not stop.is_set():
            for ev in events:
                writer.write(ev)
            n += len(events)
            backlog_seen.append(writer.backlog)

    producer = threading.Thread(target=produce)
    t0 = time.monotonic()
    producer.start()
    producer.join(FLOOD_S + 30)
    stop.set()
    t1 = time.monotonic()
    writer.close()
    marks = [t0, *[t for t in commits if t <= t1]]
    worst_gap = max(b - a for a, b in itertools.pairwise(marks))
    assert len(marks) > 4, "hardly any commit during the flood"
    assert worst_gap < 2 * writer.batch_interval_s, f"{worst_gap:.2f} s without a commit under flood"
    assert max(backlog_seen) <= writer.max_queue + 1
    assert writer.stats.producer_waits > 0  # the flood did hit the bound
    with CaptureReader(writer.path) as reader:
        assert reader.count("shares") == writer.committed > 0
        stats = reader.writer_stats()
    assert stats["max_batch"] <= writer.max_batch
    assert stats["max_backlog"] <= writer.max_queue + 1
    assert 0 < stats["max_commit_gap_s"] < 2 * writer.batch_interval_s
    text = summarise(str(writer.path))
    assert "worst commit gap" in text and "queue depth: max" in text


def test_try_write_refuses_at_the_bound_and_congestion_shows(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path / "c.sqlite", metadata={}, max_batch=1_000, max_queue=4_000) as writer:
        ev = _share(1)
        congested = refused = False
        deadline = time.monotonic() + 10
        for _ in range(2_000_000):
            congested = congested or writer.is_congested()
            if not writer.try_write(ev):
                refused = True
                break
            if time.monotonic() > deadline:
                break
        assert refused and congested
        assert writer.backlog <= writer.max_queue + 1
        writer.flush()
        assert not writer.is_congested()


def _fill_until_failed(writer: CaptureWriter) -> None:
    deadline = time.monotonic() + 15
    i = 0
    while writer.failed is None and time.monotonic() < deadline and i < 3_000_000:
        try:
            writer.write(_share(i))
        except CaptureError:
            break
        i += 1
        if i % 5_000 == 0:
            time.sleep(0.01)


def test_full_disk_surfaces_the_cause_at_once(tmp_path: Path) -> None:
    """The database may not grow (SQLite's max_page_count: the same SQLITE_FULL error as a
    full disk): the writer marks itself failed at once, every producer gets the cause,
    and never "cannot rollback - no transaction is active"."""
    errors: list[CaptureError] = []
    writer = CaptureWriter(tmp_path / "full.sqlite", metadata={}, on_error=errors.append)
    pages = writer.pragma("page_count")
    with writer._conn_lock:
        writer._conn.execute(f"PRAGMA max_page_count = {pages + 8}")
    _fill_until_failed(writer)
    failed = writer.failed
    assert failed is not None
    assert "full" in str(failed) and "no transaction" not in str(failed)
    assert errors == [failed]
    with pytest.raises(CaptureError, match="full"):
        writer.write(_share(0))
    with pytest.raises(CaptureError, match="full"):
        writer.close()
    with CaptureReader(writer.path) as reader:  # what was committed before is intact
        assert reader.integrity_ok()


def test_writer_connection_is_durable(tmp_path: Path) -> None:
    """synchronous=FULL in WAL mode: a commit is on disk when COMMIT returns. Weakening it
    to NORMAL or OFF survives a process kill, so only this check catches it."""
    with CaptureWriter(tmp_path / "c.sqlite", metadata={}) as writer:
        assert writer.pragma("journal_mode") == "wal"
        assert writer.pragma("synchronous") == 2, "PRAGMA synchronous must be FULL (2)"
