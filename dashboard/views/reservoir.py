"""Reservoir page: NRMSE of the device and of every control, intervals, paired tests,
the verdict in plain words, prediction vs target, memory capacity; compare runs."""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard.data import (
    NRMSE_NOTE,
    PAGE_KINDS,
    compare_table,
    find_reports,
    headline,
    memory_curve,
    predictions_frame,
    results_table,
    verdict_text,
)
from dashboard.ui import chart, pick_report, raw_report, report_images, settings, table

st.title("Reservoir: does the device compute?")
chosen = pick_report("reservoir", what="reservoir", how="Run `hashrc narma` (or `hashrc demo`) to make one.")
if chosen is not None:
    report = chosen.report
    device = report.get("device", "?")
    st.subheader(
        f"{report.get('task', 'narma10').upper()} on {device} ({report.get('encoding', '?')} encoding), "
        f"{report.get('steps', '?')} steps x {report.get('hold_s', '?')} s"
    )
    st.caption(f"{NRMSE_NOTE} Interval: {report.get('interval', 'not stated')}. "
               f"Seeds: {report.get('seeds', '?')}. Serials: {report.get('serials', 'one')}.")
    computes, sentence = verdict_text(report)
    (st.success if computes else st.warning)(sentence)
    results = results_table(report)
    for sentence in headline(results):
        st.markdown(sentence)
    table(results)
    if not results.empty:
        for task, part in results.groupby("task", sort=False):
            st.markdown(f"**NRMSE with 95 % intervals{f' ({task})' if task else ''}** (lower is better)")
            chart(charts.intervals(part, label="readout", value="NRMSE", low="CI low", high="CI high",
                                   value_title="NRMSE = RMSE / std(test target)", label_title="readout"))
    frame = predictions_frame(report)
    if not frame.empty:
        seed = (report.get("test_predictions") or {}).get("seed", "?")
        st.subheader(f"Prediction vs target, first {len(frame)} test steps (seed {seed})")
        chart(charts.wide_lines(frame, x_title="step (one held input each)",
                                y_title="y(t+1) (NARMA output, 1)", series_title="series"))
    mc = memory_curve(report)
    if not mc.empty:
        st.subheader("Memory capacity per delay (squared correlation on held-out data)")
        long = mc.melt(id_vars=mc.columns[0], var_name="series", value_name="MC_k")
        chart(charts.line(long, x=mc.columns[0], y="MC_k", x_title="delay k (steps)",
                          y_title="MC_k = r^2(u(t-k), readout) (1)", color="series", zero=True))
    report_images(chosen)
    raw_report(chosen)

    st.divider()
    st.subheader("Compare runs")
    root = settings().captures
    every = find_reports(root, PAGE_KINDS["reservoir"])
    labels = [r.label(root) for r in every]
    picked = st.multiselect("runs to compare", labels, default=labels[: min(3, len(labels))])
    comparison = compare_table([every[labels.index(p)] for p in picked], root)
    if comparison.empty:
        st.write("Pick one or more runs.")
    else:
        st.caption(NRMSE_NOTE)
        table(comparison)
