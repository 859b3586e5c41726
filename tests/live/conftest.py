"""Fixtures of the live-path tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker() -> None:
    """multiprocessing's spawn method runs one resource-tracker process for the life of
    the interpreter (not one per pool); start it before the per-test leak check looks."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
