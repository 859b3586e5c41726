"""Shared fixtures: every test fails if it leaks a non-daemon thread or a child process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest


def _children() -> set[int]:
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
            return {int(p) for p in f.read().split()}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        leaked = [t for t in threading.enumerate()
                  if t not in threads_before and t.is_alive() and not t.daemon]
        children = _children() - children_before
        if not leaked and not children:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
    assert not children, f"test leaked child processes: {sorted(children)}"
