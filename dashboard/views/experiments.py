"""Experiments page: start a run on an emulated or real device, watch it, cancel it."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.runs import KINDS, RunManager
from dashboard.ui import settings


@st.cache_resource
def _manager(root: str) -> RunManager:
    from pathlib import Path

    return RunManager(Path(root))


st.title("Experiments")
manager = _manager(str(settings().captures))
with st.form("start"):
    kind = st.selectbox("run", list(KINDS), format_func=lambda k: KINDS[k])
    device = st.text_input("device (URL or model: lv06, s9, lbbox, emu://..., axeos://...)", "lv06")
    name = st.text_input("run name (a new folder under the captures folder)",
                         time.strftime("run-%Y%m%d-%H%M%S"))
    steps = st.number_input("steps (NARMA / memory capacity)", min_value=500, max_value=100_000, value=3200)
    encoding = st.text_input("encoding (NARMA; empty for the default)", "")
    if st.form_submit_button("start"):
        try:
            options = {"steps": int(steps), "encoding": encoding or None} if kind in ("narma", "mc") else {}
            run = manager.start(kind, device, name, **options)
            st.success(f"started {run.name}: {' '.join(run.command[2:])}")
        except (ValueError, OSError) as exc:
            st.error(str(exc))


@st.fragment(run_every=1.0)
def progress() -> None:
    if not manager.runs:
        st.write("No runs started from this dashboard yet.")
        return
    for run in sorted(manager.runs.values(), key=lambda r: r.started_s, reverse=True):
        code = run.process.poll()
        state = "running" if code is None else ("cancelled" if run.cancelled else f"exit code {code}")
        st.markdown(f"**{run.name}** ({KINDS[run.kind]}): {state}, {time.time() - run.started_s:.0f} s")
        st.code(run.tail() or "(no output yet)")
        if code is None and st.button("cancel (keeps what was captured)", key=f"cancel-{run.name}"):
            run.cancel()


progress()
