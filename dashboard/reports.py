"""A page for one kind of claim report (filter, hashrate, sweeps, fingerprints, claims):
its headline figures, its tables, the charts its keys allow, and the report's own plots.

Report content differs per kind; this module draws what it recognises and shows every
table of rows it finds, so a report with more fields than the page knows still shows
them all.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.data import ReportFile
from dashboard.ui import chart, pick_report, raw_report, report_images, table


def scalar_figures(report: dict[str, Any], skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """Top-level numbers and short strings, one row each."""
    rows = []
    for key, value in report.items():
        if key in skip:
            continue
        if isinstance(value, bool | int | float | str) and len(str(value)) < 200:
            rows.append({"figure": key, "value": str(value)})
    return pd.DataFrame(rows)


def row_tables(report: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every list of flat dicts in the report (at the top or one level down) as a table."""
    found: dict[str, pd.DataFrame] = {}
    for key, value in report.items():
        candidates = [(key, value)]
        if isinstance(value, dict):
            candidates += [(f"{key}.{k}", v) for k, v in value.items()]
        for name, rows in candidates:
            if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in rows]
                if flat and flat[0]:
                    found[name] = pd.DataFrame(flat)
    return found


def roc_chart(report: dict[str, Any]) -> None:
    roc = report.get("roc")
    if not isinstance(roc, dict) or "fpr" not in roc or "tpr" not in roc:
        return
    frame = pd.DataFrame({"fpr": roc["fpr"], "tpr": roc["tpr"]})
    frame["low"] = roc.get("tpr_low", roc["tpr"])
    frame["high"] = roc.get("tpr_high", roc["tpr"])
    auc = report.get("auc") or roc.get("auc")
    st.markdown(f"**ROC curve** with its bootstrap band (AUC {auc}; 0.5 is chance)")
    chart(charts.band_line(frame, x="fpr", y="tpr", low="low", high="high",
                           x_title="false-positive rate (aborted hashes that would have been valid)",
                           y_title="true-positive rate"))


def heatmaps(rows: pd.DataFrame) -> None:
    axes = [c for c in ("frequency_mhz", "core_mv", "difficulty", "clock_mhz", "voltage_mv") if c in rows]
    values = [c for c in ("cv", "entropy", "dispersion", "share_count", "shares", "ks_p", "p_value")
              if c in rows]
    if len(axes) < 2 or not values:
        return
    value = st.selectbox("heatmap value", values, key="heatmap-value")
    chart(charts.heatmap(rows, x=axes[0], y=axes[1], value=value, x_title=axes[0], y_title=axes[1],
                         value_title=value))


def render(page: str, *, title: str, what: str, how: str, intro: str) -> ReportFile | None:
    st.title(title)
    st.caption(intro)
    chosen = pick_report(page, what=what, how=how)
    if chosen is not None:
        show_report(chosen, page)
    return chosen


def show_report(chosen: ReportFile, page: str) -> None:
    """Headline figures, every table of rows, the charts the keys allow, the plots."""
    report = chosen.report
    verdict = report.get("verdict")
    if isinstance(verdict, str):
        st.info(f"Verdict: {verdict}")
    elif isinstance(verdict, dict) and "text" in verdict:
        st.info(f"Verdict: {verdict['text']}")
    figures = scalar_figures(report, skip=("kind",))
    if not figures.empty:
        table(figures)
    roc_chart(report)
    for name, rows in row_tables(report).items():
        st.markdown(f"**{name}**")
        table(rows)
        if page == "sweeps":
            heatmaps(rows)
    report_images(chosen)
    md = chosen.folder / "report.md"
    if md.is_file():
        with st.expander("report.md"):
            st.markdown(md.read_text()[:100_000])
    raw_report(chosen)
