"""The hashrc dashboard (Streamlit): NRMSE with its controls, predictions and traces.

Run with ``hashrc dashboard --captures DIR``; the directory comes in through the
``HASHRC_CAPTURES`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard.data import (
    NRMSE_NOTE,
    find_runs,
    load_report,
    predictions_frame,
    results_table,
    traces,
)


def main() -> None:
    st.set_page_config(page_title="hashrc", layout="wide")
    st.title("hashrc: reservoir computing on mining ASICs, with controls")
    root = Path(os.environ.get("HASHRC_CAPTURES", "runs"))
    runs = find_runs(root)
    if not runs:
        st.info(f"No reports under {root}. Run `hashrc demo` to make one.")
        return
    labels = [str(r.relative_to(root)) if r != root else "." for r in runs]
    choice = st.sidebar.selectbox("Run", labels)
    run_dir = runs[labels.index(choice)]
    report = load_report(run_dir)

    st.subheader(
        f"NARMA-10 on {report['device']} ({report['encoding']} encoding), "
        f"{report['steps']} steps x {report['hold_s']:g} s"
    )
    st.caption(f"{NRMSE_NOTE} Interval: {report['interval']}. Seeds: {report['seeds']}.")
    st.dataframe(results_table(report), hide_index=True, use_container_width=True)
    verdict = report["verdict"]
    if verdict["computes"]:
        st.success(f"The device beats both controls (rule: {verdict['rule']}).")
    else:
        st.warning(
            "The device does not beat its controls: "
            f"beats input_linear_10: {verdict['device_beats_input_linear_10']}, "
            f"beats device_shuffled: {verdict['device_beats_device_shuffled']} (rule: {verdict['rule']})."
        )

    st.subheader(f"Predicted vs target over the test span (seed {report['test_predictions']['seed']})")
    st.line_chart(predictions_frame(report))

    capture = run_dir / report["captures"][0]
    if capture.exists():
        rate, temps = traces(capture)
        left, right = st.columns(2)
        with left:
            st.subheader("Share rate (accepted shares/s, 10 s bins)")
            st.line_chart(rate)
        with right:
            st.subheader("Chip temperature (degC, as the firmware reports it)")
            if len(temps):
                st.line_chart(temps)
            else:
                st.write("No temperature telemetry in this capture.")
    st.caption(
        f"Simulated {report['sim_seconds']:.0f} s in {report['wall_seconds']:.1f} s wall. "
        f"Capture: {capture}"
    )


main()
