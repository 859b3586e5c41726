"""Fixtures for the Stratum tests: fail any test that leaks a thread or a file descriptor."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator

import pytest


def _fds() -> set[int]:
    try:
        return {int(n) for n in os.listdir("/proc/self/fd")}
    except FileNotFoundError:  # not Linux: skip the fd check
        return set()


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves threads or file descriptors behind."""
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        gc.collect()
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        fds = _fds() - fds_before
        if (not threads and not fds) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not threads, f"leaked threads: {threads}"
    assert not fds, f"leaked file descriptors: {sorted(fds)}"
