"""Fixtures for the management-API tests: faces on loopback, no leaked threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a face or poller thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and t.name.startswith(("face:", "poll:"))
    ]
    assert not leaked, f"threads leaked: {[t.name for t in leaked]}"
