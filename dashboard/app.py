"""The hashrc dashboard (Streamlit, several pages). Run it with ``hashrc dashboard``;
settings come through the environment (:mod:`dashboard.ui`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).with_name("views")
PAGES = [
    ("reservoir.py", "Reservoir", True),
    ("captures.py", "Captures", False),
    ("devices.py", "Devices", False),
    ("experiments.py", "Experiments", False),
    ("energy_filter.py", "Energy filter", False),
    ("hashrate.py", "Hashrate", False),
    ("sweeps.py", "Sweeps", False),
    ("fingerprints.py", "Fingerprints", False),
    ("claims.py", "Claims", False),
]

st.set_page_config(page_title="hashrc", layout="wide")
navigation = st.navigation(
    [st.Page(str(VIEWS / file), title=title, default=default) for file, title, default in PAGES]
)
navigation.run()
