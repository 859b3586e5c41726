"""Reservoir page: the device and every control per task with intervals, paired
differences and Holm-corrected p-values, the verdict in plain words, prediction vs
target, memory capacity per delay; compare runs."""

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
    prediction_meta,
    prediction_tasks,
    predictions_frame,
    results_table,
    verdicts,
)
from dashboard.ui import chart, pick_report, raw_report, report_images, settings, table

st.title("Reservoir: does the device compute?")
chosen = pick_report("reservoir", what="reservoir", how="Run `hashrc narma` (or `hashrc demo`) to make one.")
if chosen is not None:
    report = chosen.report
    protocol = report.get("protocol") or {}
    device = report.get("device") or ", ".join(report.get("serials") or []) or "?"
    encoding = report.get("encoding", protocol.get("encoding", "?"))
    steps = report.get("steps", protocol.get("steps", "?"))
    hold = report.get("hold_s", protocol.get("hold_s", "?"))
    preset = f", preset {protocol['name']}" if protocol.get("name") else ""
    st.subheader(f"{device} ({encoding} encoding{preset}), {steps} steps x {hold} s")
    st.caption(f"{NRMSE_NOTE} Memory capacity MC: sum over delays of squared correlation on held-out "
               f"data, higher is better. Interval: {report.get('interval', 'not stated')}. "
               f"Seeds: {report.get('seeds', protocol.get('n_seeds', '?'))}; "
               f"serials: {report.get('serials', 'one')}.")
    for _, computes, sentence in verdicts(report):
        (st.success if computes else st.warning)(sentence)
    results = results_table(report)
    for sentence in headline(results):
        st.markdown(sentence)
    table(results)
    for task, part in results.groupby("task", sort=False) if not results.empty else []:
        score = part["score"].iloc[0]
        better = "lower" if score == "NRMSE" else "higher"
        st.markdown(f"**{task}: {score} with 95 % intervals** ({better} is better)")
        chart(charts.intervals(part, label="readout", value="value", low="CI low", high="CI high",
                               value_title="NRMSE = RMSE / std(test target)" if score == "NRMSE"
                               else "memory capacity MC (sum of squared correlations)",
                               label_title="readout"))
    tasks = prediction_tasks(report)
    if tasks:
        task = st.selectbox("prediction of task", tasks) if len(tasks) > 1 else tasks[0]
        frame = predictions_frame(report, task=task)
        if not frame.empty:
            seed, serial = prediction_meta(report)
            st.subheader(f"Prediction vs target ({task}), first {len(frame)} test steps "
                         f"(seed {seed} {serial})")
            chart(charts.wide_lines(frame, x_title="step (one held input each)",
                                    y_title=f"{task} target (1)", series_title="series"))
    mc = memory_curve(report)
    if not mc.empty:
        st.subheader("Memory capacity per delay (squared correlation on held-out data)")
        chart(charts.line(mc, x="delay", y="MC_k", x_title="delay k (steps)",
                          y_title="MC_k = r^2(u(t-k), recall) (1)", color="series", zero=True))
    warnings = report.get("warnings") or []
    for warning in warnings[:10]:
        st.caption(f"warning: {warning}")
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
