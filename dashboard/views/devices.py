"""Devices page: live telemetry, share rate and status per device, from MQTT or from
device URLs; knob controls inside each model's safe envelope."""

from __future__ import annotations

import contextlib
import time

import pandas as pd
import streamlit as st

from asic_bridge.errors import BridgeError
from asic_bridge.models import KNOBS
from dashboard.data import series_label
from dashboard.live import DeviceSession, DeviceState, MqttMonitor
from dashboard.ui import settings, table

STALE_S = 30.0


@st.cache_resource
def _monitor(url: str) -> MqttMonitor:
    from asic_bridge.publish.messages import parse_mqtt_url

    return MqttMonitor(*parse_mqtt_url(url))


@st.cache_resource
def _session(url: str, captures: str) -> DeviceSession:
    from pathlib import Path

    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in url)[:80]
    return DeviceSession(url, Path(captures) / "dashboard" / f"{name}.sqlite")


def _state_table(states: list[DeviceState]) -> pd.DataFrame:
    now = time.time()
    rows = []
    for s in states:
        row = {"device": s.device, "site": s.site,
               "last seen (s ago)": round(now - s.last_seen_s, 1),
               "state": "stale" if now - s.last_seen_s > STALE_S else "live",
               "status": s.status, "accepted shares/s (last 60 s)": round(s.share_rate(now), 3)}
        readings = sorted(s.telemetry.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1))
        for (quantity, index), event in readings:
            row[f"{series_label(quantity, index, None)} ({event.unit})"] = round(event.value, 3)
        rows.append(row)
    return pd.DataFrame(rows)


def _controls(session: DeviceSession) -> None:
    spec = session.spec
    with st.form(f"knobs-{session.url}"):
        st.markdown(f"**Set a knob on {session.device_id}** (model {spec.model}; safe envelope shown)")
        knob = st.selectbox("knob", list(KNOBS), key=f"knob-{session.url}")
        low, high = spec.knob_range(knob)
        value = st.number_input(f"value ({KNOBS[knob].unit}); safe range [{low:g}, {high:g}]",
                                value=float(low), format="%g", key=f"value-{session.url}")
        override = st.checkbox("override the safe envelope (may damage the device)", key=f"ovr-{session.url}")
        confirm = st.checkbox("I confirm the override", key=f"confirm-{session.url}") if override else False
        if st.form_submit_button("apply"):
            if override and not confirm:
                st.error("An override must be confirmed; nothing was sent.")
            else:
                try:
                    event = session.set_knob(knob, value, override=override)
                    st.success(f"{knob} set to {event.value:g} {event.unit} (asked {value:g}); recorded in "
                               f"{session.capture_path}")
                except (BridgeError, ValueError) as exc:
                    st.error(str(exc))


st.title("Devices")
config = settings()
if not config.mqtt and not config.devices:
    st.info("No live source. Start the dashboard with `--mqtt mqtt://HOST:PORT` (capture agents publish "
            "there with `hashrc capture --mqtt`) or with `--device URL` (e.g. `--device emu://lv06`).")


@st.fragment(run_every=2.0)
def live_tables() -> None:
    if config.mqtt:
        monitor = _monitor(config.mqtt)
        st.subheader(f"From MQTT {config.mqtt}")
        if monitor.error:
            st.error(monitor.error)
        elif not monitor.connected.is_set():
            st.warning("not connected to the broker (retrying)")
        states = monitor.board.snapshot()
        if states:
            table(_state_table(states))
        else:
            st.write("No device has published yet.")
    for url in config.devices:
        try:
            session = _session(url, str(config.captures))
        except (BridgeError, OSError, ValueError) as exc:
            st.error(f"{url}: {exc}")
            continue
        st.subheader(f"{url}")
        if session.error:
            st.error(session.error)
        states = session.board.snapshot()
        if states:
            table(_state_table(states))
        else:
            st.write("Waiting for the first events.")


live_tables()
for url in config.devices:
    with contextlib.suppress(BridgeError, OSError, ValueError):
        _controls(_session(url, str(config.captures)))
