"""Captures page: any capture file, whoever made it (experiment, pool, API, UART, MQTT
recorder): shares over time, inter-arrival times against the exponential law, per-chip
rates, every telemetry quantity, control changes and the input."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from asic_bridge.errors import CaptureError
from dashboard import charts
from dashboard.data import find_captures, load_capture, series_label
from dashboard.ui import chart, settings, table


@st.cache_data(max_entries=4, show_spinner="reading the capture")
def _view(path: str, mtime: float):  # type: ignore[no-untyped-def]
    return load_capture(path)


st.title("Captures")
root = settings().captures
paths = find_captures(root)
if not paths:
    st.info(f"No capture files (*.sqlite) under {root} yet. Record one with `hashrc capture`, "
            "`hashrc pool --capture`, `hashrc record` or `hashrc narma`.")
else:
    labels = [str(p.relative_to(root)) for p in paths]
    choice = st.sidebar.selectbox("capture", labels, key="capture-file")
    path = paths[labels.index(choice)]
    try:
        view = _view(str(path), path.stat().st_mtime)
    except CaptureError as exc:
        st.error(f"{choice}: {exc}")
        st.stop()
    meta = view.metadata
    st.subheader(f"{choice}: {meta.get('device_model', meta.get('model', '?'))} "
                 f"{meta.get('device_serial', meta.get('serial', ''))}, {view.duration_s:.1f} s "
                 f"({meta.get('clock', '?')} clock)")
    counts = ", ".join(f"{n:,} {kind}" for kind, n in view.counts.items())
    st.caption(f"{counts}. Share outcomes: {view.outcomes or 'none'}.")
    with st.expander("metadata"):
        st.json({k: v for k, v in meta.items() if k != "input_u"})

    left, right = st.columns(2)
    with left:
        st.markdown("**Accepted shares per second** (complete bins only)")
        if view.rate.empty:
            st.write("No accepted shares.")
        else:
            chart(charts.line(view.rate, x="time_s", y="shares_per_s", x_title="time since first event (s)",
                              y_title="accepted shares / s"))
    with right:
        st.markdown(f"**Gaps between accepted shares** (mean {view.mean_gap_s:.4g} s)")
        if view.interarrival.empty:
            st.write("Too few shares for a histogram.")
        else:
            chart(charts.histogram_vs_law(
                view.interarrival, x="gap_s", observed="observed", expected="exponential",
                x_title="gap between shares (s)", y_title="shares per bin",
                law_title="exponential law with the same mean (a Poisson process)"))
    if len(view.per_chip) > 1:
        st.markdown("**Accepted shares per chip** (from the nonce's chip field)")
        chart(charts.bars(view.per_chip, x="chip", y="rate_per_s", x_title="chip",
                          y_title="accepted shares / s"))

    st.subheader("Telemetry")
    tel = view.telemetry
    if tel.empty:
        st.write("No telemetry in this capture.")
    else:
        for (quantity, unit), part in tel.groupby(["quantity", "unit"], sort=True):
            part = part.assign(series=[series_label(quantity, i, None) for i in part["index"]])
            st.markdown(f"**{quantity}** ({unit})")
            chart(charts.line(part, x="time_s", y="value", x_title="time since first event (s)",
                              y_title=f"{quantity} ({unit})", color="series", color_title="sensor"))
    st.subheader("Control changes")
    if view.controls.empty:
        st.write("No control changes (nothing was driven).")
    else:
        for (knob, unit), part in view.controls.groupby(["knob", "unit"], sort=True):
            st.markdown(f"**{knob}** ({unit}), {len(part):,} changes")
            chart(charts.line(part, x="time_s", y="value", x_title="time since first event (s)",
                              y_title=f"{knob} ({unit})"))
        table(view.controls.head(200))
    if view.input_u:
        st.markdown("**Task input u(t)** (recorded with the capture)")
        frame = pd.DataFrame({"step": range(len(view.input_u)), "u": view.input_u}).head(2000)
        chart(charts.line(frame, x="step", y="u", x_title="step", y_title="u(t) (1)"))
