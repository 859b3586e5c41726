"""Pieces every dashboard page shares: settings, report pickers, figures and images.

Settings come from the environment ``hashrc dashboard`` sets for the Streamlit process:
``HASHRC_CAPTURES`` (folder of runs and captures), ``HASHRC_MQTT`` (broker URL, may be
empty), ``HASHRC_DEVICES`` (device URLs, one per line).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.data import PAGE_KINDS, ReportFile, find_reports


@dataclass(frozen=True, slots=True)
class Settings:
    captures: Path
    mqtt: str
    devices: tuple[str, ...]


def settings() -> Settings:
    devices = tuple(u.strip() for u in os.environ.get("HASHRC_DEVICES", "").splitlines() if u.strip())
    return Settings(Path(os.environ.get("HASHRC_CAPTURES", "runs")), os.environ.get("HASHRC_MQTT", ""),
                    devices)


def table(frame: pd.DataFrame) -> None:
    st.dataframe(frame, hide_index=True, width="stretch")


def chart(chart_object: Any) -> None:
    st.altair_chart(chart_object, width="stretch")


def pick_report(page: str, *, what: str, how: str) -> ReportFile | None:
    """A report of this page's kinds chosen in the sidebar; says so when there is none."""
    root = settings().captures
    reports = find_reports(root, PAGE_KINDS[page])
    if not reports:
        st.info(f"No {what} reports under {root} yet. {how}")
        return None
    labels = [r.label(root) for r in reports]
    choice = st.sidebar.selectbox(f"{what} report", labels, key=f"{page}-report")
    return reports[labels.index(choice)]


def report_images(report_file: ReportFile, limit: int = 8) -> None:
    """The PNG plots the report's command wrote beside it."""
    images = sorted(report_file.folder.glob("*.png"))[:limit]
    for image in images:
        st.image(str(image), caption=image.name)


def raw_report(report_file: ReportFile) -> None:
    with st.expander("report.json"):
        st.code(json.dumps(report_file.report, indent=2)[:200_000], language="json")


def figure(value: Any, digits: int = 3) -> str:
    """A number for display, or an em dash when missing."""
    if value is None:
        return "—"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def interval(ci: Any, digits: int = 3) -> str:
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return "—"
    return f"[{figure(ci[0], digits)}, {figure(ci[1], digits)}]"
