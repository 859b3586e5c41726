"""Claims page: the `hashrc claims` table, one row per published claim and device."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.reports import show_report
from dashboard.ui import pick_report, raw_report, table

COLUMNS = ("claim", "device", "published", "measured", "interval", "control", "verdict", "report")

st.title("The published claims, measured")
st.caption("Each row: the figure as published, what hashrc measured with its interval and the control it "
           "is compared with, and the verdict. NRMSE = RMSE / std(test target) unless a row says otherwise.")
chosen = pick_report("claims", what="claims", how="Run `hashrc claims --quick --out DIR` to make one.")
if chosen is not None:
    rows = chosen.report.get("rows")
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        devices = chosen.report.get("devices") or []
        quick = " (quick run)" if chosen.report.get("quick") else ""
        st.markdown(f"**{len(rows)} rows** over {', '.join(map(str, devices)) or 'the devices run'}{quick}, "
                    f"seed {chosen.report.get('seed', '?')}.")
        frame = pd.DataFrame([{c: r.get(c, "") for c in COLUMNS} for r in rows])
        verdicts = sorted(set(frame["verdict"].astype(str)))
        shown = st.multiselect("verdicts", verdicts, default=verdicts)
        table(frame[frame["verdict"].astype(str).isin(shown)])
        md = chosen.folder / "claims.md"
        if md.is_file():
            with st.expander("claims.md"):
                st.markdown(md.read_text()[:100_000])
        raw_report(chosen)
    else:
        show_report(chosen, "claims")
