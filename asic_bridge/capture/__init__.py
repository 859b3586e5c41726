"""Crash-safe capture store: one SQLite file (WAL mode) per session."""

from asic_bridge.capture.store import CaptureReader, CaptureWriter, open_capture

__all__ = ["CaptureReader", "CaptureWriter", "open_capture"]
